"""Quick classroom: from an empty folder to a running site with a class's bundles, in one flow."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtWidgets import QWizard

from core.connection_test import ConnectionTestInput, Status, run_connection_test
from gui.wizards.quick_classroom import Page, QuickClassroomWizard
from tests.gui.conftest import SLOW, wait_idle

NEXT = QWizard.WizardButton.NextButton


def test_quick_classroom_end_to_end(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window(tmp_path / "ws")
    window.welcome_page.quick_button.click()
    wizard = window.wizard
    assert isinstance(wizard, QuickClassroomWizard)
    wizard.ca_page.common_name.setText("Quick CA")
    wizard.button(NEXT).click()
    wizard.passphrase_page.passphrase.setText("quick classroom passphrase")
    wizard.passphrase_page.confirmation.setText("quick classroom passphrase")
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.HOSTS
    wizard.button(NEXT).click()
    wizard.students_page.count.setValue(3)
    wizard.students_page.port.setValue(0)
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.SUMMARY
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW * 2) as shown:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert shown.args[1] == "Classroom ready"
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.session.site is not None and window.session.site.running, timeout=SLOW)

    ws = window.workspace
    handout = next(ws.clients_dir.glob("handout*.csv"))
    with open(handout, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["Student 01", "Student 02", "Student 03"]
    assert ws.users.usernames() == ["student"]
    login_password = window.session.demo_user.password
    assert login_password in shown.args[2]

    site = window.session.site
    report = run_connection_test(ConnectionTestInput(
        url=site.url, ca_cert=ws.ca_cert_path, bundle=ws.clients_dir / rows[1]["file"],
        bundle_password=rows[1]["password"], username="student", password=login_password))
    assert all(step.status is Status.OK for step in report.steps), report.to_text()


def test_bad_class_list_and_username_stay_on_the_page(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window(tmp_path / "ws")
    wizard = window.open_quick_classroom()
    wizard.ca_page.common_name.setText("Quick CA")
    wizard.button(NEXT).click()
    wizard.passphrase_page.passphrase.setText("quick classroom passphrase")
    wizard.passphrase_page.confirmation.setText("quick classroom passphrase")
    wizard.button(NEXT).click()
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.STUDENTS
    page = wizard.students_page
    page.username.setText("has spaces")
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.STUDENTS
    assert "username" in page.error.text().lower()
    roster = tmp_path / "bad.csv"
    roster.write_text("name\nAda\nAda\n", encoding="utf-8")
    page.username.setText("student")
    page.roster.setText(str(roster))
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.STUDENTS
    assert "line 3" in page.error.text().lower()
    wizard.reject()
    assert not window.workspace.has_ca()
