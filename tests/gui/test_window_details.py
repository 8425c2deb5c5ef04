"""What a user notices besides the wizards: search, copy and open the site's address, the window coming back
where it was, every control reachable with Tab and explained by a tooltip, the roster's passwords and profile."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QSpinBox, QWizard

from core.doctor import read_p12_encryption
from core.workspace import Workspace
from gui.main_window import Area
from gui.wizards.roster import Page
from tests.gui.conftest import CA_PASSPHRASE, SLOW, wait_idle
from tests.gui.test_roster_wizard import open_wizard, write_roster

NEXT = QWizard.WizardButton.NextButton


def test_typing_in_the_search_box_filters_the_table(qtbot, make_window, workspace_with_server: Workspace) -> None:
    authority = workspace_with_server.load_ca(CA_PASSPHRASE)
    for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper"):
        workspace_with_server.issue_client_bundle(authority, name=name, password="bundle-pass-1")
    workspace_with_server.revoke(authority, "Alan Turing", reason="keyCompromise")
    window = make_window(workspace_with_server.root)
    window.show_area(Area.CERTIFICATES)
    page = window.certificates_page
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 5, timeout=SLOW)  # CA, server, three students

    def shown() -> set[str]:
        return {page.proxy.index(r, 0).data() for r in range(page.proxy.rowCount())}

    qtbot.keyClicks(page.search, "grace")
    assert shown() == {"Grace Hopper"}
    page.search.clear()
    qtbot.keyClicks(page.search, "revoked")
    assert shown() == {"Alan Turing"}
    page.search.clear()
    assert len(shown()) == 5


def test_the_site_address_is_copied_and_opened_as_shown(qtbot, make_window, workspace_with_server: Workspace) -> None:
    window = make_window(workspace_with_server.root)
    opened: list[str] = []
    window.messages.open_url = lambda url: opened.append(url) or True  # type: ignore[method-assign]
    page = window.demo_site_page
    page.start_button.click()
    wait_idle(qtbot, window)
    try:
        url = window.session.site_url
        assert url is not None and url.startswith("https://localhost:") and page.url.text() == url
        page.copy_url.click()
        assert QGuiApplication.clipboard().text() == url
        page.open_url.click()
        assert opened == [url]
    finally:
        page.stop_button.click()
        wait_idle(qtbot, window)


def test_the_window_comes_back_with_its_size(qtbot, make_window, tmp_path: Path) -> None:
    first = make_window(tmp_path / "ws")
    first.resize(first.width(), 653)  # the offscreen screen is 800 px wide: only a height can differ from it
    first.close()  # saves the geometry
    second = make_window(tmp_path / "ws")
    assert second.height() == 653 != 720  # 720: a first start's height


def test_every_control_takes_tab_focus_and_explains_itself(qtbot, make_window, workspace_with_server) -> None:
    window = make_window(workspace_with_server.root)
    assert all(window.nav.item(i).toolTip() for i in range(window.nav.count()))
    missing: list[str] = []
    for area in Area:
        window.show_area(area)
        page = window.stack.currentWidget()
        for kind in (QAbstractButton, QLineEdit, QComboBox, QSpinBox):
            for widget in page.findChildren(kind):
                if not widget.isVisibleTo(page) or isinstance(widget.parent(), (QSpinBox, QComboBox)):
                    continue  # a spin box's or an editable combo box's own line edit is that box
                assert widget.focusPolicy() & Qt.FocusPolicy.TabFocus, (area, widget)
                label = widget.text() if isinstance(widget, (QAbstractButton, QLineEdit)) else ""
                password = isinstance(widget, QLineEdit) and widget.echoMode() == QLineEdit.EchoMode.Password
                if not widget.toolTip() and not password:  # a password field's label says all
                    missing.append(f"{area.name}: {type(widget).__name__} {label!r}")
    assert not missing, missing


def test_the_roster_can_generate_every_password_in_the_compatible_profile(
        qtbot, make_window, workspace_with_ca: Workspace, tmp_path: Path) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    out = tmp_path / "class"
    wizard.file_page.roster.setText(str(write_roster(tmp_path / "roster.csv", 3)))  # Ada's row has a password
    wizard.file_page.out_dir.setText(str(out))
    assert wizard.file_page.check()
    wizard.button(NEXT).click()
    options = wizard.options_page
    options.profile.setCurrentIndex(options.profile.findData(next(
        options.profile.itemData(i) for i in range(options.profile.count())
        if options.profile.itemData(i).value == "compatible")))
    options.passwords.setCurrentIndex(options.passwords.findData("generate"))
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.ISSUE
    assert "generated for every student" in wizard.issue_page.summary.text()
    with qtbot.waitSignal(wizard.finished_batch, timeout=SLOW * 2) as done:
        wizard.accept()
    result = done.args[0]
    assert result.complete
    with open(result.handout, encoding="utf-8-sig", newline="") as fh:
        passwords = {row["name"]: row["password"] for row in csv.DictReader(fh)}
    assert passwords["Ada Lovelace"] != "chosen-password-1" and len(passwords["Ada Lovelace"]) == 23
    assert {read_p12_encryption(p.read_bytes()).profile for p in out.glob("*.p12")} == {"compatible"}
    wizard.accept()
