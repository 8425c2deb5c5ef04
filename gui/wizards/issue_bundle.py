"""Issue one student's client bundle (.p12): who, password, summary; then show the password once."""

from __future__ import annotations

import enum
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.authority import Authority
from core.bundles import BundleProfile, check_bundle_password
from core.passwords import generate_password
from core.profiles import CLIENT_DEFAULT_DAYS, SERVER_APPLE_LIMIT_DAYS
from gui.messages import sentence
from gui.session import Session
from gui.wizards.common import ActionWizard, BusyBar, ErrorLabel


class Page(enum.IntEnum):
    STUDENT = 0
    PASSWORD = 1
    SUMMARY = 2


class StudentPage(QWizardPage):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setTitle("Who is the certificate for?")
        self.setSubTitle("One bundle per student: the name goes into the certificate and names the .p12 file.")
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Ada Lovelace")
        self.email = QLineEdit()
        self.email.setPlaceholderText("optional")
        self.valid_days = QSpinBox()
        self.valid_days.setRange(1, SERVER_APPLE_LIMIT_DAYS)
        self.valid_days.setSuffix(" days")
        self.valid_days.setValue(CLIENT_DEFAULT_DAYS)
        self.profile = QComboBox()
        for p in BundleProfile:
            self.profile.addItem(p.label, p)
        self.profile.setToolTip(
            "Modern encryption imports in current browsers and Windows 10+.\n"
            "Pick Compatible when the student uses macOS Keychain/Safari, iOS, Android, old Windows or Java 8."
        )
        self.error = ErrorLabel()
        form = QFormLayout(self)
        form.addRow("Student &name:", self.name)
        form.addRow("&E-mail:", self.email)
        form.addRow("&Valid for:", self.valid_days)
        form.addRow("Bundle &profile:", self.profile)
        form.addRow(self.error)
        self.registerField("name*", self.name)
        self.registerField("email", self.email)
        self.registerField("valid_days", self.valid_days)
        self.name.textChanged.connect(self.error.clear_error)

    def validatePage(self) -> bool:
        name = self.name.text().strip()
        try:
            path = self.session.workspace.bundle_path_for(name)
        except ValueError as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        if path.exists():
            ws = self.session.workspace
            record = ws.registry.by_bundle_path(str(path.relative_to(ws.root)))
            # A revoked or expired student's old files are archived and replaced; a valid one is kept.
            if record is None or (record.status == "valid" and not record.is_expired()):
                self.error.show_error(
                    f"{name} already has a valid bundle ({path.name}). Renew it in Certificates, revoke it first, "
                    "or use another name."
                )
                return False
        return True


class PasswordPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Bundle password")
        self.setSubTitle(
            "The student types this password to import the bundle. Generate one (easy to read aloud) "
            "or type your own. It is shown once more at the end and is not stored."
        )
        self.password = QLineEdit()
        self.password.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.generate = QPushButton("&Generate")
        self.generate.clicked.connect(self.generate_password)
        row = QHBoxLayout()
        row.addWidget(self.password, 1)
        row.addWidget(self.generate)
        self.error = ErrorLabel()
        form = QFormLayout(self)
        label = QLabel("&Password:")
        label.setBuddy(self.password)  # addRow(str, layout) would show the "&" literally
        form.addRow(label, row)
        form.addRow(self.error)
        self.registerField("password*", self.password)
        self.password.textChanged.connect(self.error.clear_error)

    def initializePage(self) -> None:
        if not self.password.text():
            self.generate_password()

    def generate_password(self) -> None:
        self.password.setText(generate_password())

    def validatePage(self) -> bool:
        try:
            check_bundle_password(self.password.text())
        except ValueError as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        return True


class SummaryPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Ready to issue the bundle")
        self.setSubTitle("Press Issue. The key is made here and sealed into the .p12 with the password.")
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
        assert isinstance(wizard, IssueBundleWizard)
        path = wizard.session.workspace.bundle_path_for(wizard.student_name())
        self.summary.setText(
            "<table cellspacing='6'>"
            f"<tr><td>Student:</td><td><b>{escape(wizard.student_name())}</b></td></tr>"
            f"<tr><td>E-mail:</td><td>{escape(wizard.email() or '—')}</td></tr>"
            f"<tr><td>Valid for:</td><td>{wizard.valid_days()} days</td></tr>"
            f"<tr><td>Profile:</td><td>{escape(wizard.profile().label)}</td></tr>"
            f"<tr><td>Signed by:</td><td>{escape(wizard.authority.name)}</td></tr>"
            f"<tr><td>File:</td><td>{escape(str(path))}</td></tr>"
            "</table>"
        )


class IssueBundleWizard(ActionWizard):
    """Issues the bundle on a worker when Issue is pressed; ``issued(IssuedBundle, password)`` then fires."""

    issued = Signal(object, str)

    failure_title = "The bundle was not issued"

    def __init__(self, session: Session, authority: Authority, parent: QWidget | None = None) -> None:
        super().__init__(session, parent)
        self.authority = authority
        self.setWindowTitle("Issue a client bundle")
        self.student_page = StudentPage(session)
        self.password_page = PasswordPage()
        self.summary_page = SummaryPage()
        self.setPage(Page.STUDENT, self.student_page)
        self.setPage(Page.PASSWORD, self.password_page)
        self.setPage(Page.SUMMARY, self.summary_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Issue")
        self.resize(620, 440)

    def student_name(self) -> str:
        return str(self.field("name")).strip()

    def email(self) -> str | None:
        return str(self.field("email")).strip() or None

    def valid_days(self) -> int:
        return int(self.field("valid_days"))

    def password(self) -> str:
        return str(self.field("password"))

    def profile(self) -> BundleProfile:
        value = self.student_page.profile.currentData()
        assert isinstance(value, BundleProfile)
        return value

    def accept(self) -> None:
        ws, authority = self.session.workspace, self.authority
        name, email, days, password = self.student_name(), self.email(), self.valid_days(), self.password()
        profile = self.profile()
        self.run_action(
            lambda: ws.issue_client_bundle(authority, name=name, password=password, email=email, valid_days=days,
                                           profile=profile),
            label="issue bundle",
            caption="Making the key and encrypting the bundle…",
            busy_bar=self.summary_page.busy,
            done=lambda bundle: self.issued.emit(bundle, password),
        )


class BundleReadyDialog(QDialog):
    """Shows where the bundle is and its password, once. Non-modal, deleted on close."""

    def __init__(self, bundle_path: Path, password: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Bundle ready")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        intro = QLabel(
            "Give the student the bundle file and this password (separately, if you can). "
            "<b>The password is shown only now</b>; mTLS Lab does not keep it."
        )
        intro.setWordWrap(True)
        self.path_field = QLineEdit(str(bundle_path))
        self.path_field.setReadOnly(True)
        self.password_field = QLineEdit(password)
        self.password_field.setReadOnly(True)
        self.password_field.setFont(fixed)
        self.copy_path = QPushButton("Copy")
        self.copy_password = QPushButton("Copy password")
        self.copy_path.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.path_field.text()))
        self.copy_password.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.password_field.text()))
        form = QFormLayout()
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_field, 1)
        path_row.addWidget(self.copy_path)
        pw_row = QHBoxLayout()
        pw_row.addWidget(self.password_field, 1)
        pw_row.addWidget(self.copy_password)
        form.addRow("Bundle:", path_row)
        form.addRow("Password:", pw_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.resize(780, 190)
