"""Quick classroom: CA, server certificate, the class's bundles, a login and the site running, in one flow."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.authority import Authority
from core.passwords import generate_password
from core.roster import RosterError, RosterResult, parse_roster, read_roster_file
from core.site_users import check_username
from core.workspace import Workspace, WorkspaceError
from gui.file_field import CSV_FILES, file_row
from gui.messages import sentence
from gui.session import Session
from gui.wizards.common import ActionWizard, BusyBar, ErrorLabel
from gui.wizards.create_ca import PassphrasePage
from gui.wizards.issue_server import HostsPage


class Page(enum.IntEnum):
    CA = 0
    PASSPHRASE = 1
    HOSTS = 2
    STUDENTS = 3
    SUMMARY = 4


@dataclass(frozen=True)
class Classroom:
    """What the flow made, for the final message."""

    authority: Authority
    roster: RosterResult
    username: str
    password: str
    port: int


class CaPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Your class's certificate authority")
        self.setSubTitle("It signs the site's certificate and every student's. ECDSA P-256, valid 10 years.")
        self.common_name = QLineEdit()
        self.common_name.setPlaceholderText("e.g. Networks 101 Classroom CA")
        self.organization = QLineEdit()
        self.organization.setPlaceholderText("optional, e.g. Hilltop School")
        form = QFormLayout(self)
        form.addRow("CA &name:", self.common_name)
        form.addRow("&Organization:", self.organization)
        self.registerField("qc_name*", self.common_name)


class StudentsPage(QWizardPage):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows: list[object] = []
        self.setTitle("Students and the site")
        self.setSubTitle(
            "Choose the class list (CSV: name, optional e-mail, optional password), or just a number of numbered "
            "bundles. One shared login is made for the site's second factor."
        )
        self.roster = QLineEdit()
        self.roster.setPlaceholderText("optional: roster.csv")
        roster_row, _ = file_row(self.roster, session.messages, "Choose the class list", CSV_FILES)
        self.count = QSpinBox()
        self.count.setRange(1, 500)
        self.count.setValue(30)
        self.count.setSuffix(" students")
        self.username = QLineEdit("student")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setValue(8443)
        self.port.setSpecialValueText("any free port")
        self.error = ErrorLabel()
        form = QFormLayout(self)
        roster_label = QLabel("Class &list:")
        roster_label.setBuddy(self.roster)
        form.addRow(roster_label, roster_row)
        form.addRow("…or &number:", self.count)
        form.addRow("Site &login:", self.username)
        form.addRow("Site &port:", self.port)
        form.addRow(self.error)
        self.roster.textChanged.connect(lambda text: self.count.setEnabled(not text.strip()))
        self.roster.textChanged.connect(self.error.clear_error)

    def roster_bytes(self) -> bytes:
        if self.roster.text().strip():
            return read_roster_file(Path(self.roster.text().strip()))
        return ("name\n" + "".join(f"Student {i:02d}\n" for i in range(1, self.count.value() + 1))).encode()

    def validatePage(self) -> bool:
        try:
            check_username(self.username.text().strip())
            self.rows = list(parse_roster(self.roster_bytes(), out_dir=self.session.workspace.clients_dir))
        except RosterError as exc:
            self.error.show_error(sentence("; ".join(exc.problems[:4])))
            return False
        except (ValueError, WorkspaceError, OSError) as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        return True


class SummaryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Ready to set up the classroom")
        self.setSubTitle("Press Set up. Everything runs in the background; the site starts at the end.")
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
        assert isinstance(wizard, QuickClassroomWizard)
        self.summary.setText(
            "<table cellspacing='6'>"
            f"<tr><td>CA:</td><td><b>{escape(wizard.ca_page.common_name.text().strip())}</b></td></tr>"
            f"<tr><td>Site names:</td><td>{escape(', '.join(wizard.hosts_page.host_list()))}</td></tr>"
            f"<tr><td>Bundles:</td><td>{len(wizard.students_page.rows)} (passwords in a handout)</td></tr>"
            f"<tr><td>Site login:</td><td>{escape(wizard.students_page.username.text().strip())} "
            "(password generated, shown at the end)</td></tr>"
            f"<tr><td>Folder:</td><td>{escape(str(wizard.session.workspace.root))}</td></tr>"
            "</table>"
        )


class QuickClassroomWizard(ActionWizard):
    """Builds the whole classroom on a worker; ``ready(Classroom)`` fires when it is done."""

    ready = Signal(object)

    failure_title = "The classroom was not set up"

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.setWindowTitle("Quick classroom")
        self.ca_page = CaPage()
        self.passphrase_page = PassphrasePage()
        self.hosts_page = HostsPage()
        self.students_page = StudentsPage(session)
        self.summary_page = SummaryPage()
        for page_id, page in ((Page.CA, self.ca_page), (Page.PASSPHRASE, self.passphrase_page),
                              (Page.HOSTS, self.hosts_page), (Page.STUDENTS, self.students_page),
                              (Page.SUMMARY, self.summary_page)):
            self.setPage(page_id, page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Set up")
        self.resize(680, 480)

    def accept(self) -> None:
        ws = self.session.workspace
        name, org = self.ca_page.common_name.text().strip(), self.ca_page.organization.text().strip() or None
        passphrase = self.passphrase_page.passphrase.text()
        hosts = self.hosts_page.host_list()
        rows = list(self.students_page.rows)
        username = self.students_page.username.text().strip()
        port = self.students_page.port.value()
        self.run_action(
            lambda: _build(ws, name, org, passphrase, hosts, rows, username, port),
            label="set up the classroom",
            caption="Creating the CA, the site's certificate and every bundle…",
            busy_bar=self.summary_page.busy,
            done=self.ready.emit,
        )


def _build(ws: Workspace, name: str, org: str | None, passphrase: str, hosts: list[str], rows: list[object],
           username: str, port: int) -> Classroom:
    from core.roster import RosterRow, issue_roster

    authority = ws.create_ca(common_name=name, organization=org, passphrase=passphrase)
    ws.issue_server(authority, hosts=hosts)
    result = issue_roster(ws, authority, [r for r in rows if isinstance(r, RosterRow)], out_dir=ws.clients_dir)
    password = generate_password()
    ws.users.set_password(username, password)
    return Classroom(authority, result, username, password, port)
