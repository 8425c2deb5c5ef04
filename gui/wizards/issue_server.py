"""Issue the demo site's server certificate: host names and addresses (this machine's pre-filled), key, lifetime."""

from __future__ import annotations

import enum
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.authority import Authority
from core.hosts import this_machine_hosts
from core.keys import KeyType
from core.profiles import SERVER_APPLE_LIMIT_DAYS, SERVER_DEFAULT_DAYS, parse_hosts
from gui.messages import sentence
from gui.session import Session
from gui.tones import Tone, tone
from gui.wizards.common import ActionWizard, BusyBar, ErrorLabel


class Page(enum.IntEnum):
    HOSTS = 0
    KEY = 1
    SUMMARY = 2


class HostsPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Which names and addresses will students type?")
        self.setSubTitle(
            "One per line. The browser checks that the address in its bar is in the certificate. "
            "This computer's names and addresses are filled in; remove what students will not use."
        )
        self.hosts = QPlainTextEdit("\n".join(this_machine_hosts()))
        self.error = ErrorLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.hosts)
        layout.addWidget(self.error)
        self.hosts.textChanged.connect(self.error.clear_error)

    def host_list(self) -> list[str]:
        return [line.strip() for line in self.hosts.toPlainText().splitlines() if line.strip()]

    def validatePage(self) -> bool:
        try:
            parse_hosts(self.host_list())
        except ValueError as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        return True


class KeyPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Key and lifetime")
        self.setSubTitle("ECDSA P-256 is fast and accepted by every current browser.")
        self.key_type = QComboBox()
        for kt in KeyType:
            self.key_type.addItem(kt.label, kt)
        self.days = QSpinBox()
        self.days.setRange(1, 3650)
        self.days.setValue(SERVER_DEFAULT_DAYS)
        self.days.setSuffix(" days")
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {tone(Tone.WARNING)};")
        self.days.valueChanged.connect(self._warn)
        form = QFormLayout(self)
        form.addRow("&Key type:", self.key_type)
        form.addRow("&Valid for:", self.days)
        form.addRow(self.warning)
        self._warn(self.days.value())

    def _warn(self, days: int) -> None:
        self.warning.setText(
            f"Apple devices refuse server certificates valid for more than {SERVER_APPLE_LIMIT_DAYS} days."
            if days > SERVER_APPLE_LIMIT_DAYS else ""
        )


class SummaryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Ready to issue the server certificate")
        self.setSubTitle("It replaces the current one; a running demo site uses it from its next connection.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.busy = BusyBar()
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.busy)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, IssueServerWizard)
        self.summary.setText(
            "<table cellspacing='6'>"
            f"<tr><td>Names and addresses:</td><td><b>{escape(', '.join(wizard.hosts()))}</b></td></tr>"
            f"<tr><td>Key:</td><td>{escape(wizard.key_type().label)}</td></tr>"
            f"<tr><td>Valid for:</td><td>{wizard.valid_days()} days</td></tr>"
            f"<tr><td>Signed by:</td><td>{escape(wizard.authority.name)}</td></tr>"
            "</table>"
        )


class IssueServerWizard(ActionWizard):
    """Issues the certificate on a worker when Issue is pressed; ``issued(certificate)`` then fires."""

    issued = Signal(object)

    failure_title = "The server certificate was not issued"

    def __init__(self, session: Session, authority: Authority, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.authority = authority
        self.setWindowTitle("Issue the demo site's server certificate")
        self.hosts_page = HostsPage()
        self.key_page = KeyPage()
        self.summary_page = SummaryPage()
        self.setPage(Page.HOSTS, self.hosts_page)
        self.setPage(Page.KEY, self.key_page)
        self.setPage(Page.SUMMARY, self.summary_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Issue")
        self.resize(620, 440)

    def hosts(self) -> list[str]:
        return self.hosts_page.host_list()

    def key_type(self) -> KeyType:
        value = self.key_page.key_type.currentData()
        assert isinstance(value, KeyType)
        return value

    def valid_days(self) -> int:
        return self.key_page.days.value()

    def accept(self) -> None:
        ws, authority = self.session.workspace, self.authority
        hosts, key_type, days = self.hosts(), self.key_type(), self.valid_days()
        self.run_action(
            lambda: ws.issue_server(authority, hosts=hosts, key_type=key_type, valid_days=days),
            label="issue server certificate",
            caption="Making the key and signing the certificate…",
            busy_bar=self.summary_page.busy,
            done=self.issued.emit,
        )
