"""Import CA wizard: an openssl-made CA with profile problems is imported with its warnings shown."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PySide6.QtWidgets import QWizard

from core.workspace import Workspace
from gui.wizards.import_ca import ImportCaWizard, Page
from tests.conftest import need
from tests.gui.conftest import SLOW

NEXT = QWizard.WizardButton.NextButton


def openssl_ca(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "old-ca.crt", tmp_path / "old-ca.key"
    subprocess.run(
        [need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "365", "-subj", "/CN=Old School CA",
         "-addext", "basicConstraints=CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=none", "-addext", "authorityKeyIdentifier=none"],
        check=True, capture_output=True)
    return cert, key


def store_under_new_passphrase(qtbot, wizard: ImportCaWizard) -> None:  # type: ignore[no-untyped-def]
    """From the findings page: the new storage passphrase, twice, and Finish; waits for the import."""
    wizard.button(NEXT).click()
    wizard.passphrase_page.passphrase.setText("new storage passphrase")
    wizard.passphrase_page.confirmation.setText("new storage passphrase")
    with qtbot.waitSignal(wizard.imported, timeout=SLOW):
        wizard.button(QWizard.WizardButton.FinishButton).click()


def test_import_with_warnings_then_issue(qtbot, make_window, tmp_path: Path) -> None:
    cert, key = openssl_ca(tmp_path)
    window = make_window(tmp_path / "ws")
    wizard = window.open_import_ca()
    assert isinstance(wizard, ImportCaWizard)
    wizard.files_page.cert_file.setText(str(cert))
    wizard.files_page.key_file.setText(str(key))
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.FINDINGS
    text = wizard.findings_page.text.text()
    assert "Old School CA" in text
    assert "basicconstraints is not marked critical" in text.lower()
    assert "no subject key identifier" in text.lower()
    store_under_new_passphrase(qtbot, wizard)
    ws = Workspace(tmp_path / "ws")
    assert ws.has_ca()
    assert ws.ca_certificate().subject.rfc4514_string() == "CN=Old School CA"
    assert ws.load_ca("new storage passphrase").name == "Old School CA"
    assert window.session.authority is not None


def test_wrong_files_say_why_and_stay(qtbot, make_window, tmp_path: Path) -> None:
    cert, _key = openssl_ca(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _cert2, key2 = openssl_ca(other)
    window = make_window(tmp_path / "ws")
    wizard = window.open_import_ca()
    wizard.files_page.cert_file.setText(str(cert))
    wizard.files_page.key_file.setText(str(key2))
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.FILES
    assert wizard.files_page.error.isVisible()
    assert "does not belong to the certificate" in wizard.files_page.error.text()
    wizard.files_page.p12.setChecked(True)
    junk = tmp_path / "junk.p12"
    junk.write_bytes(b"not a p12")
    wizard.files_page.p12_file.setText(str(junk))
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.FILES
    assert "cannot be opened" in wizard.files_page.error.text()
    wizard.reject()
    assert not Workspace(tmp_path / "ws").has_ca()


def test_a_p12_ca_with_its_password_from_the_welcome_button(qtbot, make_window, tmp_path: Path) -> None:
    """The Welcome page's Import button, a password-protected .p12 (as keytool or XCA export them), the password
    asked in the wizard, and the CA key stored under the new passphrase only."""
    cert, key = openssl_ca(tmp_path)
    p12 = tmp_path / "old-ca.p12"
    pw = tmp_path / "pw"
    pw.write_text("export-pass-1\n")
    subprocess.run([need("openssl"), "pkcs12", "-export", "-in", str(cert), "-inkey", str(key), "-out", str(p12),
                    "-passout", f"file:{pw}", "-name", "Old School CA"], check=True, capture_output=True)
    window = make_window(tmp_path / "ws")
    window.welcome_page.import_button.click()
    wizard = window.wizard
    assert isinstance(wizard, ImportCaWizard)
    wizard.files_page.p12.setChecked(True)
    wizard.files_page.p12_file.setText(str(p12))
    wizard.files_page.password.setText("not-the-password")
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.FILES  # a wrong password keeps the page, with the reason
    assert wizard.files_page.error.isVisible() and wizard.files_page.error.text()
    wizard.files_page.password.setText("export-pass-1")
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.FINDINGS
    store_under_new_passphrase(qtbot, wizard)
    ws = Workspace(tmp_path / "ws")
    assert ws.load_ca("new storage passphrase").name == "Old School CA"
    stored = ws.ca_key_path.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in stored and b"export-pass-1" not in stored
