"""Student Help: names this workspace's files, and imports CA + bundle into a real NSS database."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.workspace import Workspace
from tests.conftest import need
from tests.gui.conftest import CA_PASSPHRASE, SLOW, wait_idle


def test_help_names_the_files_and_imports_into_nss(qtbot, make_window, workspace_with_server: Workspace,
                                                   tmp_path: Path) -> None:
    ws = workspace_with_server
    bundle = ws.issue_client_bundle(ws.load_ca(CA_PASSPHRASE), name="Ada Lovelace", password="bundle-pass-1")
    db = tmp_path / "profile"
    db.mkdir()
    subprocess.run([need("certutil"), "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)

    window = make_window(ws.root)
    page = window.student_help_page
    page.refresh()
    text = page.text.toPlainText()
    assert str(ws.ca_cert_path) in text
    assert "ada-lovelace.p12" in text
    assert page.bundle.text() == str(bundle.bundle_path)

    page.profile.setEditText(str(db))
    page.bundle_password.setText("bundle-pass-1")
    page.import_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: page.import_button.isEnabled(), timeout=SLOW)
    assert "Imported into" in page.result.text()
    listing = subprocess.run([need("certutil"), "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True)
    assert "Fixture CA" in listing.stdout and "Ada Lovelace" in listing.stdout


def test_wrong_bundle_password_is_shown(qtbot, make_window, workspace_with_server: Workspace, tmp_path: Path) -> None:
    ws = workspace_with_server
    ws.issue_client_bundle(ws.load_ca(CA_PASSPHRASE), name="Grace", password="bundle-pass-1")
    window = make_window(ws.root)
    page = window.student_help_page
    page.refresh()
    page.profile.setEditText(str(tmp_path / "db"))
    page.bundle_password.setText("not-the-password")
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.import_button.click()
    wait_idle(qtbot, window)
    assert shown.args[0] == "error"
    assert "password is wrong" in shown.args[2]
