"""Click through the whole first lesson: CA → server certificate → bundle → demo user → site → test."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWizard

from core.connection_test import STEP_TITLES
from gui.main_window import Area
from gui.wizards.create_ca import Page as CaPage
from gui.wizards.issue_bundle import Page as BundlePage
from tests.gui.conftest import CA_PASSPHRASE, SLOW, wait_idle

NEXT = QWizard.WizardButton.NextButton
FINISH = QWizard.WizardButton.FinishButton


def test_first_lesson_end_to_end(qtbot, make_window, answers, tmp_path: Path) -> None:
    window = make_window(tmp_path / "lab")
    assert window.windowTitle() == f"mTLS Lab — {(tmp_path / 'lab').resolve()}"
    page = window.authority_page
    assert page.create_ca_button.isEnabled()
    assert not page.issue_server_button.isEnabled()

    # 1. Create the CA through the wizard.
    page.create_ca_button.click()
    wizard = window.wizard
    wizard.names_page.common_name.setText("Networks 101 CA")
    wizard.names_page.organization.setText("Hilltop School")
    wizard.button(NEXT).click()
    assert wizard.currentId() == CaPage.KEY
    wizard.button(NEXT).click()
    wizard.passphrase_page.passphrase.setText(CA_PASSPHRASE)
    wizard.passphrase_page.confirmation.setText(CA_PASSPHRASE)
    wizard.button(NEXT).click()
    assert wizard.currentId() == CaPage.SUMMARY
    assert "Networks 101 CA" in wizard.summary_page.summary.text()
    with qtbot.waitSignal(wizard.created, timeout=SLOW):
        wizard.button(FINISH).click()
    wait_idle(qtbot, window)
    assert window.workspace.has_ca()
    assert page.name.text() == "Networks 101 CA"
    assert page.fingerprint.text().count(":") == 31
    assert page.cert_path.text() == str(window.workspace.ca_cert_path)
    assert not page.create_ca_button.isEnabled()

    # 2. Server certificate: the CA was unlocked by creating it, so no passphrase is asked.
    page.issue_server_button.click()
    wait_idle(qtbot, window)
    assert window.workspace.has_server()
    assert answers.asked == []

    # 3. A student bundle through the wizard.
    page.issue_bundle_button.click()
    wizard = window.wizard
    wizard.student_page.name.setText("Ada Lovelace")
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.PASSWORD
    bundle_password = wizard.password_page.password.text()
    assert len(bundle_password) >= 8  # generated on entering the page
    wizard.button(NEXT).click()
    with qtbot.waitSignal(wizard.issued, timeout=SLOW):
        wizard.button(FINISH).click()
    wait_idle(qtbot, window)
    bundle_path = window.workspace.clients_dir / "ada-lovelace.p12"
    assert bundle_path.is_file()
    assert window.bundle_dialog.password_field.text() == bundle_password
    assert window.bundle_dialog.path_field.text() == str(bundle_path)

    # The certificates table followed along.
    kinds = sorted(window.certificates_page.model.record(r).kind
                   for r in range(window.certificates_page.model.rowCount()))
    assert kinds == ["ca", "client", "server"]

    # 4. The demo user.
    window.show_area(Area.DEMO_SITE)
    site_page = window.demo_site_page
    site_page.username.setText("ada")
    site_page.generate_button.click()
    user_password = site_page.password.text()
    site_page.save_user_button.click()
    wait_idle(qtbot, window)
    assert window.workspace.users.usernames() == ["ada"]
    assert user_password in site_page.user_note.text()

    # 5. Start the site on any free port; its events arrive in the log.
    site_page.port.setValue(0)
    site_page.start_button.click()
    wait_idle(qtbot, window)
    assert window.session.site is not None and window.session.site.running
    assert site_page.url.text().startswith("https://localhost:")
    qtbot.waitUntil(lambda: site_page.log.count() >= 1, timeout=SLOW)
    assert "site-started" in site_page.log.item(0).text()

    # 6. Test Connection, pre-filled from the session.
    window.show_area(Area.TEST_CONNECTION)
    test_page = window.test_connection_page
    assert test_page.url.text() == site_page.url.text()
    assert test_page.ca_file.text() == str(window.workspace.ca_cert_path)
    assert test_page.bundle_file.text() == str(bundle_path)
    test_page.bundle_password.setText(bundle_password)
    test_page.username.setText("ada")
    test_page.password.setText(user_password)
    with qtbot.waitSignal(test_page.report_ready, timeout=SLOW) as blocker:
        test_page.run_button.click()
    report = blocker.args[0]
    assert report.ok, report.to_text()
    assert test_page.step_statuses() == [(title, "ok") for title in STEP_TITLES.values()]
    test_page.copy_button.click()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == report.to_text()

    # The site logged the student's visit.
    qtbot.waitUntil(lambda: any("login" in site_page.log.item(i).text() for i in range(site_page.log.count())),
                    timeout=SLOW)

    # 7. Stop the site.
    site_page.stop_button.click()
    wait_idle(qtbot, window)
    assert window.session.site is None
    assert site_page.start_button.isEnabled()


def test_test_connection_inputs_are_remembered_but_not_passwords(qtbot, make_window, tmp_path) -> None:
    window = make_window(tmp_path / "ws")
    page = window.test_connection_page
    page.url.setText("https://localhost:9/")
    page.ca_file.setText(str(tmp_path / "ca.crt"))
    page.username.setText("ada")
    page.bundle_password.setText("secret-bundle-pass")
    page.run_test()
    wait_idle(qtbot, window)
    again = make_window(tmp_path / "other")
    assert again.test_connection_page.url.text() == "https://localhost:9/"
    assert again.test_connection_page.username.text() == "ada"
    assert again.test_connection_page.bundle_password.text() == ""
