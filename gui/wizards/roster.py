"""Issue a class's bundles from a roster CSV: file and preview, options, then a batch with progress and Cancel."""

from __future__ import annotations

import dataclasses
import enum
import threading
from html import escape
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.authority import Authority
from core.bundles import BundleProfile
from core.profiles import CLIENT_DEFAULT_DAYS
from core.roster import RosterError, RosterResult, RosterRow, issue_roster, parse_roster, read_roster_file
from core.workspace import WorkspaceError
from gui.file_field import CSV_FILES, file_row
from gui.messages import sentence
from gui.session import Session
from gui.tones import Tone, tone
from gui.wizards.common import ErrorLabel


class Page(enum.IntEnum):
    FILE = 0
    OPTIONS = 1
    ISSUE = 2


class _Progress(QObject):
    """Carries progress from the worker thread to the GUI thread."""

    step = Signal(int, int, str)


class FilePage(QWizardPage):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.rows: list[RosterRow] = []
        self.setTitle("Class list")
        self.setSubTitle(
            "A CSV file with one student per line: name, optional e-mail, optional password "
            "(a header line like name,email,password is allowed). Every line is checked before anything is issued."
        )
        self.roster = QLineEdit()
        self.roster.setPlaceholderText("path to roster.csv")
        row, _ = file_row(self.roster, session.messages, "Choose the class list", CSV_FILES, then=self.check)
        self.out_dir = QLineEdit(str(session.workspace.clients_dir))
        self.out_dir.setToolTip("The bundles and handout.csv (with every password) are written here, owner-only")
        check = QPushButton("Check")
        check.clicked.connect(self.check)
        self.preview = QTableWidget(0, 3)
        self.preview.setHorizontalHeaderLabels(["Line", "Name", "File"])
        self.preview.verticalHeader().hide()
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.preview.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.problems = QListWidget()
        self.problems.setStyleSheet(f"color: {tone(Tone.BAD)};")
        # A problem can name a long path: wrap it rather than hide its end behind a horizontal scroll bar.
        self.problems.setWordWrap(True)
        self.problems.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.problems.hide()
        self.error = ErrorLabel()
        roster_label = QLabel("&Roster:")
        roster_label.setBuddy(self.roster)
        form = QFormLayout()
        form.addRow(roster_label, row)
        form.addRow("&Output folder:", self.out_dir)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(check, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.error)
        self.roster.textChanged.connect(self._changed)
        self.out_dir.textChanged.connect(self._changed)

    def _changed(self) -> None:
        self.rows = []
        self.error.clear_error()

    def check(self) -> bool:
        """Parse the roster; fill the preview or the per-line problems. True when it can be issued."""
        self.rows = []
        self.preview.setRowCount(0)
        self.problems.clear()
        self.problems.hide()
        self.preview.show()
        self.error.clear_error()
        path = self.roster.text().strip()
        if not path:
            self.error.show_error("Choose the roster file.")
            return False
        try:
            rows = parse_roster(read_roster_file(Path(path)), out_dir=Path(self.out_dir.text().strip() or "."))
        except RosterError as exc:
            self.problems.addItems([sentence(p) for p in exc.problems])
            self.problems.show()
            self.preview.hide()  # an empty preview above the problems only pushes them down
            n = len(exc.problems)
            self.error.show_error(f"{n} problem{'' if n == 1 else 's'}: fix the roster and press Check again.")
            return False
        except (WorkspaceError, OSError) as exc:
            self.error.show_error(sentence(str(exc)))
            return False
        self.rows = rows
        self.preview.setRowCount(len(rows))
        for i, r in enumerate(rows):
            for col, value in enumerate((str(r.line), r.name, f"{r.stem}.p12")):
                self.preview.setItem(i, col, QTableWidgetItem(value))
        return True

    def validatePage(self) -> bool:
        return bool(self.rows) or self.check()


class OptionsPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Bundles")
        self.setSubTitle(
            "Rows without a password get a generated one. Pick the compatible profile when students use "
            "macOS Keychain/Safari, iOS, Android, old Windows or Java 8."
        )
        self.profile = QComboBox()
        for p in BundleProfile:
            self.profile.addItem(p.label, p)
        self.days = QSpinBox()
        self.days.setRange(1, 3650)
        self.days.setValue(CLIENT_DEFAULT_DAYS)
        self.days.setSuffix(" days")
        self.passwords = QComboBox()
        self.passwords.addItem("From the class list where given, generated for the others", "list")
        self.passwords.addItem("Generated for every student (ignore the list's passwords)", "generate")
        self.passwords.setToolTip(
            "Generated passwords are 20 characters from an alphabet without look-alikes (about 99 bits); a "
            "password in the class list must have 8 to 256 characters. All of them go into the handout."
        )
        self.profile.setToolTip("Modern (AES-256): Firefox, Chrome, Windows 10+, Linux, Java 11+. Compatible (3DES): "
                                "also macOS Keychain/Safari, iOS, Android, Windows 7/8, Java 8.")
        form = QFormLayout(self)
        form.addRow("&Profile:", self.profile)
        form.addRow("Pass&words:", self.passwords)
        form.addRow("&Valid for:", self.days)


class IssuePage(QWizardPage):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Issue the bundles")
        self.setSubTitle("Press Issue. Keys are made on every CPU core; Cancel keeps the bundles already finished.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.bar = QProgressBar()
        self.bar.setFormat("%v of %m")
        self.status = QLabel()
        self.status.setWordWrap(True)  # the final line names the handout's full path
        self.cancel_button = QPushButton("Cancel the batch")
        self.cancel_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignRight)

    def initializePage(self) -> None:
        wizard = self.wizard()
        assert isinstance(wizard, RosterWizard)
        self.bar.setRange(0, len(wizard.rows()))
        self.bar.setValue(0)
        passwords = ("generated for every student" if wizard.generate_every_password()
                     else "from the list where given, else generated")
        self.summary.setText(
            "<table cellspacing='6'>"
            f"<tr><td>Students:</td><td><b>{len(wizard.rows())}</b></td></tr>"
            f"<tr><td>Folder:</td><td>{escape(str(wizard.out_dir()))}</td></tr>"
            f"<tr><td>Profile:</td><td>{escape(wizard.profile().label)}</td></tr>"
            f"<tr><td>Passwords:</td><td>{passwords}</td></tr>"
            f"<tr><td>Valid for:</td><td>{wizard.valid_days()} days</td></tr>"
            f"<tr><td>Signed by:</td><td>{escape(wizard.authority.name)}</td></tr>"
            "</table>"
        )


class RosterWizard(QWizard):
    """Runs :func:`core.roster.issue_roster` on a worker; ``finished_batch(RosterResult)`` fires at the end."""

    finished_batch = Signal(object)

    def __init__(self, session: Session, authority: Authority, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.authority = authority
        self.setWindowTitle("Issue bundles for a class")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.file_page = FilePage(session)
        self.options_page = OptionsPage()
        self.issue_page = IssuePage()
        self.setPage(Page.FILE, self.file_page)
        self.setPage(Page.OPTIONS, self.options_page)
        self.setPage(Page.ISSUE, self.issue_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Issue")
        self.resize(720, 520)
        self._cancel = threading.Event()
        self._progress = _Progress(self)
        self._progress.step.connect(self._on_step)
        self.issue_page.cancel_button.clicked.connect(self.cancel_batch)
        self.running = False
        self.batch_result: RosterResult | None = None

    def rows(self) -> list[RosterRow]:
        return self.file_page.rows

    def out_dir(self) -> Path:
        return Path(self.file_page.out_dir.text().strip())

    def profile(self) -> BundleProfile:
        value = self.options_page.profile.currentData()
        assert isinstance(value, BundleProfile)
        return value

    def valid_days(self) -> int:
        return self.options_page.days.value()

    def generate_every_password(self) -> bool:
        return bool(self.options_page.passwords.currentData() == "generate")

    def accept(self) -> None:
        if self.running:
            return
        if self.batch_result is not None:  # the batch is done: Finish closes
            super().accept()
            return
        self._set_running(True)
        ws, authority, rows = self.session.workspace, self.authority, list(self.rows())
        if self.generate_every_password():
            rows = [dataclasses.replace(row, password=None) for row in rows]
        out_dir, profile, days = self.out_dir(), self.profile(), self.valid_days()
        self._cancel.clear()
        progress = self._progress

        def batch() -> RosterResult:
            return issue_roster(ws, authority, rows, out_dir=out_dir, profile=profile, valid_days=days,
                                progress=lambda done, total, name: progress.step.emit(done, total, name),
                                cancel=self._cancel)

        self.session.tasks.run(batch, on_success=self._done, on_failure=self._failed, owner=self,
                               label="issue class bundles")

    def cancel_batch(self) -> None:
        self._cancel.set()
        self.issue_page.status.setText("Cancelling: finishing the bundles already in progress…")

    def reject(self) -> None:
        if self.running:
            self.cancel_batch()
            return
        super().reject()

    def _on_step(self, done: int, total: int, name: str) -> None:
        self.issue_page.bar.setValue(done)
        self.issue_page.status.setText(f"Issued {name}")

    def _done(self, result: RosterResult) -> None:
        self.batch_result = result
        self._set_running(False)
        issued = len(result.issued)
        what = (f"Cancelled: {issued} of {result.total} bundles were issued" if result.cancelled
                else f"All {issued} bundles were issued" if not result.skipped
                else f"{issued} of {result.total} bundles were issued; not issued (given a certificate elsewhere "
                     "meanwhile): " + "; ".join(why for _row, why in result.skipped))
        self.issue_page.status.setText(f"{what}. Passwords: {result.handout} (owner-only; hand them out, then "
                                       "delete it).")
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Close")
        self.issue_page.setSubTitle("Done. Give each student their .p12, its password and ca/ca.crt.")
        self.issue_page.cancel_button.hide()
        # Nothing is left to cancel: Close only. (Set before disabling Back: changing an option re-enables it.)
        self.setOption(QWizard.WizardOption.NoCancelButton, True)
        self.button(QWizard.WizardButton.BackButton).setEnabled(False)
        self.session.certificates_changed.emit()
        self.finished_batch.emit(result)

    def _failed(self, message: str) -> None:
        self._set_running(False)
        self.session.certificates_changed.emit()
        self.session.messages.error("The batch stopped", sentence(message), parent=self)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.issue_page.cancel_button.setEnabled(running)
        for button in (QWizard.WizardButton.FinishButton, QWizard.WizardButton.BackButton):
            self.button(button).setEnabled(not running)
