"""Import an existing CA (openssl, easy-rsa, XCA, keytool): files, what we found, a passphrase to store it."""

from __future__ import annotations

import enum
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.authority import common_name
from core.importer import CAImportError, ImportedCA, import_p12, import_pem
from gui.file_field import CERTIFICATE_FILES, file_row
from gui.messages import sentence
from gui.session import Session
from gui.tones import Tone, styled
from gui.wizards.common import ActionWizard, BusyBar, ErrorLabel
from gui.wizards.create_ca import PassphrasePage


class Page(enum.IntEnum):
    FILES = 0
    FINDINGS = 1
    PASSPHRASE = 2


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CAImportError(f"cannot read the {what} {path}: {exc.strerror}") from None


class FilesPage(QWizardPage):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.imported: ImportedCA | None = None
        self.setTitle("Where is the CA?")
        self.setSubTitle(
            "Either its certificate (PEM or DER, e.g. easy-rsa's pki/ca.crt) and its private key "
            "(pki/private/ca.key), or one .p12/.pfx holding both (e.g. from Java keytool or XCA)."
        )
        self.pair = QRadioButton("Certificate and &key files")
        self.p12 = QRadioButton("One .&p12 / .pfx file")
        self.pair.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.pair)
        group.addButton(self.p12)
        self.cert_file = QLineEdit()
        self.key_file = QLineEdit()
        self.p12_file = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("the key's or the .p12's password (empty if it has none)")
        self.error = ErrorLabel()
        form = QFormLayout(self)
        form.addRow(self.pair)
        keys = "Keys (*.key *.pem *.der);;All files (*)"
        form.addRow("Certificate:", self._with_browse(self.cert_file, "CA certificate", CERTIFICATE_FILES))
        form.addRow("Private key:", self._with_browse(self.key_file, "CA private key", keys))
        form.addRow(self.p12)
        form.addRow(".p12 file:", self._with_browse(self.p12_file, "CA .p12", "PKCS#12 (*.p12 *.pfx);;All files (*)"))
        form.addRow("Password:", self.password)
        form.addRow(self.error)
        for widget in (self.cert_file, self.key_file, self.p12_file, self.password):
            widget.textChanged.connect(self.error.clear_error)
        self.pair.toggled.connect(self._mode)
        self._mode()

    def _with_browse(self, field: QLineEdit, title: str, file_filter: str) -> QHBoxLayout:
        return file_row(field, self.session.messages, title, file_filter)[0]

    def _mode(self) -> None:
        pair = self.pair.isChecked()
        self.cert_file.setEnabled(pair)
        self.key_file.setEnabled(pair)
        self.p12_file.setEnabled(not pair)

    def validatePage(self) -> bool:
        self.imported = None
        password = self.password.text()
        try:
            if self.pair.isChecked():
                imported = import_pem(_read(self.cert_file.text().strip(), "certificate"),
                                      _read(self.key_file.text().strip(), "key file"),
                                      key_password=password or None)
            else:
                imported = import_p12(_read(self.p12_file.text().strip(), ".p12 file"), password)
        except CAImportError as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        self.imported = imported
        return True


class FindingsPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("What we found")
        self.setSubTitle("The key matches the certificate. Profile problems are listed with what they cause.")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        QVBoxLayout(self).addWidget(self.text)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, ImportCaWizard)
        imported = wizard.files_page.imported
        assert imported is not None
        cert = imported.authority.certificate
        rows = (
            f"<p><b>{escape(common_name(cert))}</b><br>{escape(cert.subject.rfc4514_string())}<br>"
            f"valid until {cert.not_valid_after_utc:%Y-%m-%d}</p>"
        )
        if imported.warnings:
            items = "".join(f"<li>{escape(sentence(w))}</li>" for w in imported.warnings)
            rows += f"<p>{styled(f'{len(imported.warnings)} warning(s):', Tone.WARNING)}</p><ul>{items}</ul>"
            rows += "<p>You can still import it; consider creating a new CA with mTLS Lab instead.</p>"
        else:
            rows += f"<p>{styled('No profile problems found.', Tone.GOOD)}</p>"
        self.text.setText(rows)


class ImportCaWizard(ActionWizard):
    """Stores the imported CA on a worker when Import is pressed; ``imported(Authority)`` then fires."""

    imported = Signal(object)

    failure_title = "The CA was not imported"

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.setWindowTitle("Import an existing CA")
        self.files_page = FilesPage(session)
        self.findings_page = FindingsPage()
        self.passphrase_page = PassphrasePage()
        self.passphrase_page.setSubTitle(
            "mTLS Lab stores the CA key encrypted with this passphrase (your original files are not changed)."
        )
        self.busy_bar = BusyBar()
        self.passphrase_page.layout().addWidget(self.busy_bar)  # type: ignore[union-attr]
        self.setPage(Page.FILES, self.files_page)
        self.setPage(Page.FINDINGS, self.findings_page)
        self.setPage(Page.PASSPHRASE, self.passphrase_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Import")
        self.resize(700, 460)

    def accept(self) -> None:
        if self.files_page.imported is None:
            return
        authority = self.files_page.imported.authority
        passphrase = self.passphrase_page.passphrase.text()
        ws = self.session.workspace
        self.run_action(
            lambda: ws.import_ca(authority, passphrase=passphrase),
            label="import CA",
            caption="Encrypting and storing the CA key…",
            busy_bar=self.busy_bar,
            done=self.imported.emit,
        )
