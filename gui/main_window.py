"""The main window: a navigation list on the left, one area at a time on the right."""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
    QWizard,
)

from core.authority import Authority
from core.workspace import IssuedBundle, Workspace
from gui.icons import icon
from gui.messages import Messages
from gui.operations import TaskManager
from gui.pages.authority import AuthorityPage
from gui.pages.certificates import CertificatesPage
from gui.pages.demo_site import DemoSitePage
from gui.pages.doctor import DoctorPage
from gui.pages.student_help import StudentHelpPage
from gui.pages.test_connection import TestConnectionPage
from gui.pages.welcome import WelcomePage
from gui.session import Credentials, Session
from gui.settings import GEOMETRY_KEY, app_settings, remember_workspace
from gui.wizards import BundleReadyDialog, CreateCaWizard, IssueBundleWizard, IssueServerWizard, RosterWizard
from gui.wizards.import_ca import ImportCaWizard
from gui.wizards.quick_classroom import Classroom, QuickClassroomWizard

AREA_TIPS = {
    "WELCOME": "First steps, and workspaces used recently",
    "AUTHORITY": "The CA, the site's certificate, and issuing bundles",
    "CERTIFICATES": "Every certificate issued: details, export, renew, revoke",
    "DEMO_SITE": "Start the mutual-TLS site students log in to, and watch its events",
    "TEST_CONNECTION": "Check a bundle against a site, step by step, with the cause of any failure",
    "STUDENT_HELP": "How students trust the CA and import their bundle",
    "BUNDLE_DOCTOR": "What is inside a .p12 and what to fix, offline",
}

# Windows opened by "Open another workspace" (kept referenced until they close).
_OPEN_WINDOWS: list[MainWindow] = []


class Area(enum.IntEnum):
    """The areas, in the order of the navigation list (the value is the row)."""

    WELCOME = 0
    AUTHORITY = 1
    CERTIFICATES = 2
    DEMO_SITE = 3
    TEST_CONNECTION = 4
    STUDENT_HELP = 5
    BUNDLE_DOCTOR = 6


# SVG icons from resources/icons, so they stay sharp at any device pixel ratio.
AREA_LABELS = {
    Area.WELCOME: ("Welcome", "welcome.svg"),
    Area.AUTHORITY: ("Authority", "authority.svg"),
    Area.CERTIFICATES: ("Certificates", "certificates.svg"),
    Area.DEMO_SITE: ("Demo Site", "site.svg"),
    Area.TEST_CONNECTION: ("Test Connection", "test.svg"),
    Area.STUDENT_HELP: ("Student Help", "help.svg"),
    Area.BUNDLE_DOCTOR: ("Bundle Doctor", "doctor.svg"),
}


class MainWindow(QMainWindow):
    def __init__(self, workspace: Path | str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        ws = Workspace(workspace)
        self.messages = Messages(self)
        self.tasks = TaskManager(self)
        self.session = Session(ws, self.messages, self.tasks, parent=self)
        self.wizard: QWizard | None = None
        self.setWindowTitle(f"mTLS Lab — {ws.root}")
        self.setWindowIcon(icon("app"))

        self.welcome_page = WelcomePage(self.session)
        self.welcome_page.create_ca_requested.connect(self.open_create_ca)
        self.welcome_page.open_workspace_requested.connect(self.switch_workspace)
        self.welcome_page.import_ca_requested.connect(self.open_import_ca)
        self.welcome_page.quick_classroom_requested.connect(self.open_quick_classroom)
        self.authority_page = AuthorityPage(self.session)
        self.certificates_page = CertificatesPage(self.session)
        self.demo_site_page = DemoSitePage(self.session)
        self.test_connection_page = TestConnectionPage(self.session)
        self.student_help_page = StudentHelpPage(self.session)
        self.doctor_page = DoctorPage(self.session)
        self.authority_page.create_ca_requested.connect(self.open_create_ca)
        self.authority_page.issue_bundle_requested.connect(self.open_issue_bundle)
        self.authority_page.issue_server_wizard_requested.connect(self.open_issue_server)
        self.authority_page.roster_requested.connect(self.open_roster)

        self.nav = QListWidget()
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(190)
        # A light tint of the highlight keeps the blue icons visible on the selected row, in light and dark palettes.
        self.nav.setStyleSheet(
            "QListWidget::item:selected { background: rgba(47, 129, 247, 0.20); color: palette(text); }"
        )
        self.stack = QStackedWidget()
        for area, page in (
            (Area.WELCOME, self.welcome_page),
            (Area.AUTHORITY, self.authority_page),
            (Area.CERTIFICATES, self.certificates_page),
            (Area.DEMO_SITE, self.demo_site_page),
            (Area.TEST_CONNECTION, self.test_connection_page),
            (Area.STUDENT_HELP, self.student_help_page),
            (Area.BUNDLE_DOCTOR, self.doctor_page),
        ):
            label, icon_file = AREA_LABELS[area]
            item = QListWidgetItem(icon(icon_file.removesuffix(".svg")), label)
            item.setToolTip(AREA_TIPS[area.name])
            item.setSizeHint(QSize(0, 40))
            self.nav.addItem(item)
            self.stack.addWidget(page)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        # First run (no CA yet) starts on the welcome page; afterwards on the Authority.
        self.nav.setCurrentRow(Area.AUTHORITY if ws.has_ca() else Area.WELCOME)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.tasks.started.connect(lambda label: self.statusBar().showMessage(f"Working: {label}…"))
        self.tasks.idle.connect(self.statusBar().clearMessage)
        self.resize(1100, 720)
        geometry = app_settings().value(GEOMETRY_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        remember_workspace(ws.root)

    @property
    def workspace(self) -> Workspace:
        return self.session.workspace

    def show_area(self, area: Area) -> None:
        self.nav.setCurrentRow(area)

    def switch_workspace(self, path: Path) -> MainWindow:
        """Open ``path`` in a new window and close this one (its site stops)."""
        window = MainWindow(path)
        _OPEN_WINDOWS.append(window)
        window.destroyed.connect(lambda *_: _OPEN_WINDOWS.remove(window) if window in _OPEN_WINDOWS else None)
        window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.show()
        self.close()
        return window

    # -- wizards ----------------------------------------------------------------------
    def open_create_ca(self) -> CreateCaWizard:
        wizard = CreateCaWizard(self.session, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.created.connect(self._ca_created)
        self._open(wizard)
        return wizard

    def open_quick_classroom(self) -> QuickClassroomWizard:
        wizard = QuickClassroomWizard(self.session, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.ready.connect(self._classroom_ready)
        self._open(wizard)
        return wizard

    def _classroom_ready(self, classroom: Classroom) -> None:
        self.session.set_authority(classroom.authority)
        self.session.demo_user = Credentials(classroom.username, classroom.password)
        self.session.certificates_changed.emit()
        self.session.demo_user_changed.emit()
        self.session.bundle_issued.emit()
        page = self.demo_site_page
        page.port.setValue(classroom.port)
        self.show_area(Area.DEMO_SITE)
        page.start_site()
        self.messages.info(
            "Classroom ready",
            f"{len(classroom.roster.issued)} bundles are in {classroom.roster.out_dir}; their passwords are in "
            f"{classroom.roster.handout} (owner-only: print it, then delete it).\n\n"
            f"Site login: {classroom.username} / {classroom.password} (shown only now).\n"
            "Give each student ca/ca.crt, their .p12 and its password; the site is starting.",
        )

    def open_import_ca(self) -> ImportCaWizard:
        wizard = ImportCaWizard(self.session, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.imported.connect(self._ca_imported)
        self._open(wizard)
        return wizard

    def _ca_imported(self, authority: Authority) -> None:
        self.session.set_authority(authority)
        self.session.certificates_changed.emit()
        self.show_area(Area.AUTHORITY)
        self.messages.info("CA imported", f"“{authority.name}” is now this workspace's CA. Next: issue the server "
                           "certificate, then client bundles.")

    def _ca_created(self, authority: Authority) -> None:
        self.session.set_authority(authority)
        self.session.certificates_changed.emit()
        self.messages.info(
            "CA created",
            f"The CA “{authority.name}” is ready. Next: issue the server certificate, then client bundles.",
        )

    def open_issue_bundle(self) -> None:
        self.session.with_authority(self._open_issue_bundle_with)

    def _open_issue_bundle_with(self, authority: Authority) -> None:
        wizard = IssueBundleWizard(self.session, authority, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.issued.connect(self._bundle_issued)
        self._open(wizard)

    def open_roster(self) -> None:
        self.session.with_authority(self._open_roster_with)

    def _open_roster_with(self, authority: Authority) -> None:
        wizard = RosterWizard(self.session, authority, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._open(wizard)

    def open_issue_server(self) -> None:
        self.session.with_authority(self._open_issue_server_with)

    def _open_issue_server_with(self, authority: Authority) -> None:
        wizard = IssueServerWizard(self.session, authority, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.issued.connect(lambda _cert: self.session.certificates_changed.emit())
        self._open(wizard)

    def _bundle_issued(self, bundle: IssuedBundle, password: str) -> None:
        self.session.last_bundle = Credentials(bundle.name, password, bundle.bundle_path)
        self.session.certificates_changed.emit()
        self.session.bundle_issued.emit()
        self.bundle_dialog = BundleReadyDialog(bundle.bundle_path, password, self)
        self.bundle_dialog.show()

    def _open(self, wizard: QWizard) -> None:
        self.wizard = wizard
        wizard.open()  # window-modal, non-blocking

    # -- closing ----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        app_settings().setValue(GEOMETRY_KEY, self.saveGeometry())
        self.tasks.wait_for_workers()
        self.demo_site_page.shutdown()
        super().closeEvent(event)
