"""Create the workspace's certificate authority: names, key, passphrase, summary."""

from __future__ import annotations

import enum
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.keys import KeyType
from core.profiles import CA_DEFAULT_DAYS
from core.workspace import check_passphrase
from gui.messages import sentence
from gui.session import Session
from gui.wizards.common import ActionWizard, BusyBar, ErrorLabel, strength_hint

KEY_TYPES = list(KeyType)


class Page(enum.IntEnum):
    NAMES = 0
    KEY = 1
    PASSPHRASE = 2
    SUMMARY = 3


class NamesPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Name your certificate authority")
        self.setSubTitle(
            "Students will see this name when their browser asks which certificate to use, "
            "and in the CA certificate you hand out."
        )
        self.common_name = QLineEdit()
        self.common_name.setPlaceholderText("e.g. Networks 101 Classroom CA")
        self.organization = QLineEdit()
        self.organization.setPlaceholderText("optional, e.g. Hilltop School")
        form = QFormLayout(self)
        form.addRow("Common &name:", self.common_name)
        form.addRow("&Organization:", self.organization)
        self.registerField("common_name*", self.common_name)
        self.registerField("organization", self.organization)


class KeyPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Key and lifetime")
        self.setSubTitle("ECDSA P-256 is fast and accepted everywhere. Choose RSA only if an old client needs it.")
        self.key_type = QComboBox()
        for kt in KEY_TYPES:
            self.key_type.addItem(kt.label, kt.value)
        self.key_type.setCurrentIndex(KEY_TYPES.index(KeyType.EC_P256))
        self.valid_years = QSpinBox()
        self.valid_years.setRange(1, 30)
        self.valid_years.setSuffix(" years")
        self.valid_years.setValue(CA_DEFAULT_DAYS // 365)
        form = QFormLayout(self)
        form.addRow("&Key type:", self.key_type)
        form.addRow("&Valid for:", self.valid_years)
        note = QLabel(
            "The CA outlives every certificate it signs; when it expires, all of them stop working."
        )
        note.setWordWrap(True)
        form.addRow(note)
        self.registerField("key_type", self.key_type)  # currentIndex
        self.registerField("valid_years", self.valid_years)


class PassphrasePage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Protect the CA key")
        self.setSubTitle(
            "The CA key is stored encrypted with this passphrase. Anyone with the key and the passphrase "
            "can issue certificates your site trusts. It cannot be recovered if you forget it."
        )
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirmation = QLineEdit()
        self.confirmation.setEchoMode(QLineEdit.EchoMode.Password)
        self.strength = QLabel()
        self.error = ErrorLabel()
        form = QFormLayout(self)
        form.addRow("&Passphrase:", self.passphrase)
        form.addRow("&Repeat it:", self.confirmation)
        form.addRow("", self.strength)
        form.addRow(self.error)
        self.registerField("passphrase*", self.passphrase)
        self.registerField("confirmation*", self.confirmation)
        self.passphrase.textChanged.connect(self._update_hint)
        self.confirmation.textChanged.connect(self.error.clear_error)

    def _update_hint(self, text: str) -> None:
        self.strength.setText(strength_hint(text))
        self.error.clear_error()

    def validatePage(self) -> bool:
        passphrase = self.passphrase.text()
        if passphrase != self.confirmation.text():
            self.error.show_error("The two passphrases are not the same. Type them again.")
            return False
        try:
            check_passphrase(passphrase)
        except ValueError as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        return True


class SummaryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Ready to create the CA")
        self.setSubTitle("Press Create. RSA keys can take a few seconds.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.busy = BusyBar()
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.busy)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, CreateCaWizard)
        org = wizard.organization() or "—"
        self.summary.setText(
            f"<table cellspacing='6'>"
            f"<tr><td>Common name:</td><td><b>{escape(wizard.common_name())}</b></td></tr>"
            f"<tr><td>Organization:</td><td>{escape(org)}</td></tr>"
            f"<tr><td>Key type:</td><td>{escape(wizard.key_type().label)}</td></tr>"
            f"<tr><td>Valid for:</td><td>{wizard.valid_days()} days</td></tr>"
            f"<tr><td>Stored in:</td><td>{escape(str(wizard.session.workspace.root / 'ca'))}</td></tr>"
            f"</table>"
        )


class CreateCaWizard(ActionWizard):
    """Creates the CA on a worker when Create is pressed; ``created`` fires with the new authority."""

    created = Signal(object)

    failure_title = "The CA was not created"

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.setWindowTitle("Create a certificate authority")
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, False)
        self.names_page = NamesPage()
        self.key_page = KeyPage()
        self.passphrase_page = PassphrasePage()
        self.summary_page = SummaryPage()
        self.setPage(Page.NAMES, self.names_page)
        self.setPage(Page.KEY, self.key_page)
        self.setPage(Page.PASSPHRASE, self.passphrase_page)
        self.setPage(Page.SUMMARY, self.summary_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Create")
        self.resize(620, 440)

    # -- answers ---------------------------------------------------------------------
    def common_name(self) -> str:
        return str(self.field("common_name")).strip()

    def organization(self) -> str | None:
        return str(self.field("organization")).strip() or None

    def key_type(self) -> KeyType:
        return KEY_TYPES[int(self.field("key_type"))]

    def valid_days(self) -> int:
        return int(self.field("valid_years")) * 365

    # -- the action ------------------------------------------------------------------
    def accept(self) -> None:
        ws = self.session.workspace
        common_name, organization = self.common_name(), self.organization()
        key_type, valid_days = self.key_type(), self.valid_days()
        passphrase = str(self.field("passphrase"))
        self.run_action(
            lambda: ws.create_ca(
                common_name=common_name,
                passphrase=passphrase,
                organization=organization,
                key_type=key_type,
                valid_days=valid_days,
            ),
            label="create CA",
            caption=f"Generating a {key_type.label} key and signing the CA…",
            busy_bar=self.summary_page.busy,
            done=self.created.emit,
        )
