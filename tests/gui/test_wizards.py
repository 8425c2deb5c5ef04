"""Wizard validation: Next stays put until the answers are acceptable."""

from __future__ import annotations

from PySide6.QtWidgets import QWizard

from core.workspace import Workspace
from gui.wizards.create_ca import CreateCaWizard
from gui.wizards.create_ca import Page as CaPage
from gui.wizards.issue_bundle import IssueBundleWizard
from gui.wizards.issue_bundle import Page as BundlePage
from tests.gui.conftest import CA_PASSPHRASE, SLOW, wait_idle

NEXT = QWizard.WizardButton.NextButton


def _to_passphrase_page(wizard: CreateCaWizard) -> None:
    wizard.names_page.common_name.setText("Test CA")
    wizard.button(NEXT).click()
    wizard.button(NEXT).click()
    assert wizard.currentId() == CaPage.PASSPHRASE


def test_common_name_is_mandatory(qtbot, make_window, tmp_path) -> None:
    window = make_window(tmp_path / "ws")
    wizard = window.open_create_ca()
    assert not wizard.button(NEXT).isEnabled()
    wizard.names_page.common_name.setText("Test CA")
    assert wizard.button(NEXT).isEnabled()


def test_mismatching_passphrases_block_next(qtbot, make_window, tmp_path) -> None:
    window = make_window(tmp_path / "ws")
    wizard = window.open_create_ca()
    _to_passphrase_page(wizard)
    page = wizard.passphrase_page
    page.passphrase.setText("first passphrase")
    page.confirmation.setText("second passphrase")
    wizard.button(NEXT).click()
    assert wizard.currentId() == CaPage.PASSPHRASE
    assert page.error.isVisible()
    assert "not the same" in page.error.text()
    # Typing again clears the complaint; matching passphrases go on.
    page.confirmation.setText("first passphrase")
    assert not page.error.isVisible()
    wizard.button(NEXT).click()
    assert wizard.currentId() == CaPage.SUMMARY


def test_short_passphrase_blocks_next_with_core_rule(qtbot, make_window, tmp_path) -> None:
    window = make_window(tmp_path / "ws")
    wizard = window.open_create_ca()
    _to_passphrase_page(wizard)
    page = wizard.passphrase_page
    page.passphrase.setText("short")
    page.confirmation.setText("short")
    assert "too short" in page.strength.text()
    wizard.button(NEXT).click()
    assert wizard.currentId() == CaPage.PASSPHRASE
    assert page.error.text() == "The CA passphrase must be at least 8 characters."
    page.passphrase.setText("Tr0ub4dor&3-horse-staple")
    assert "Strength:" in page.strength.text()


def test_key_type_and_validity_reach_the_ca(qtbot, make_window, tmp_path) -> None:
    window = make_window(tmp_path / "ws")
    wizard = window.open_create_ca()
    wizard.names_page.common_name.setText("P-384 CA")
    wizard.button(NEXT).click()
    wizard.key_page.key_type.setCurrentIndex(1)  # ECDSA P-384
    wizard.key_page.valid_years.setValue(2)
    wizard.button(NEXT).click()
    wizard.passphrase_page.passphrase.setText(CA_PASSPHRASE)
    wizard.passphrase_page.confirmation.setText(CA_PASSPHRASE)
    wizard.button(NEXT).click()
    with qtbot.waitSignal(wizard.created, timeout=SLOW):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    wait_idle(qtbot, window)
    assert window.authority_page.key_type.text() == "ECDSA P-384"
    cert = window.workspace.ca_certificate()
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (729, 730, 731)


def test_bundle_wizard_refuses_short_password_and_existing_name(
    qtbot, make_window, workspace_with_ca: Workspace
) -> None:
    ws = workspace_with_ca
    authority = ws.load_ca(CA_PASSPHRASE)
    ws.issue_client_bundle(authority, name="Ada", password="ada-password-1")
    window = make_window(ws.root)
    wizard = IssueBundleWizard(window.session, authority, window)
    qtbot.addWidget(wizard)
    wizard.show()
    page = wizard.student_page
    page.name.setText("Ada")
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.STUDENT
    assert "ada.p12" in page.error.text()
    page.name.setText("!!!")
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.STUDENT
    page.name.setText("Grace Hopper")
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.PASSWORD
    pw = wizard.password_page
    pw.password.setText("short")
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.PASSWORD
    assert pw.error.isVisible()
    pw.generate.click()
    assert len(pw.password.text()) == 23
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.SUMMARY
    assert "grace-hopper.p12" in wizard.summary_page.summary.text()
    wizard.reject()


def test_compatible_profile_bundle_for_macos(qtbot, make_window, workspace_with_ca: Workspace) -> None:
    from core.bundles import BundleProfile
    from core.doctor import read_p12_encryption

    window = make_window(workspace_with_ca.root)
    window.open_issue_bundle()
    wait_idle(qtbot, window)
    wizard = window.wizard
    assert isinstance(wizard, IssueBundleWizard)
    wizard.student_page.name.setText("Mac User")
    page = wizard.student_page
    page.profile.setCurrentIndex(page.profile.findData(BundleProfile.COMPATIBLE))
    wizard.button(NEXT).click()
    wizard.button(NEXT).click()
    assert wizard.currentId() == BundlePage.SUMMARY
    assert "Compatible" in wizard.summary_page.summary.text()
    with qtbot.waitSignal(wizard.issued, timeout=SLOW):
        wizard.button(QWizard.WizardButton.FinishButton).click()
    encryption = read_p12_encryption((workspace_with_ca.clients_dir / "mac-user.p12").read_bytes())
    assert encryption.profile == "compatible"
