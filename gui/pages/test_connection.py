"""Test Connection: walk a mutual-TLS login step by step, live, and explain any failure."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.connection_test import ConnectionReport, ConnectionTestInput, Status, Step, run_connection_test
from gui.file_field import CERTIFICATE_FILES, file_row
from gui.icons import icon
from gui.session import Session
from gui.settings import app_settings
from gui.tones import Tone, styled

STATUS_WORDS = {Status.OK: "ok", Status.FAILED: "failed", Status.SKIPPED: "skipped"}
# A skipped step gets a grey dash, not an arrow: an arrow reads as "click to expand".
STATUS_ICONS = {Status.OK: "status-ok", Status.FAILED: "status-failed", Status.SKIPPED: "status-skipped"}


class _StepRelay(QObject):
    """``run_connection_test`` reports steps on the worker thread; this queues them to the GUI thread."""

    step = Signal(object)


class TestConnectionPage(QWidget):
    # Tell pytest this is not a test class despite its name.
    __test__ = False

    report_ready = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.report: ConnectionReport | None = None
        self._relay = _StepRelay(self)
        self._relay.step.connect(self._add_step)

        self.url = QLineEdit()
        self.url.setToolTip('The https:// address of the demo site or of any server that asks for client certificates')
        self.url.setPlaceholderText("https://localhost:8443/")
        self.ca_file = QLineEdit()
        self.ca_file.setToolTip("The CA that should have signed the server's certificate (the class's ca.crt)")
        self.bundle_file = QLineEdit()
        self.bundle_file.setToolTip('Your .p12 bundle (or a PEM certificate with its key); leave empty to see '
                                    'what the server does without one')
        self.bundle_file.setPlaceholderText("empty: test without a client certificate")
        self.bundle_password = QLineEdit()
        self.bundle_password.setToolTip("The bundle's password, from the handout (never stored)")
        self.bundle_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.username = QLineEdit()
        self.username.setToolTip('Your site login; leave empty to skip the login steps')
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        in_workspace = lambda: str(session.workspace.root)  # noqa: E731
        ca_row, self.browse_ca = file_row(self.ca_file, session.messages, "CA certificate", CERTIFICATE_FILES,
                                          start=in_workspace, parent=self)
        bundle_row, self.browse_bundle = file_row(
            self.bundle_file, session.messages, "Client bundle",
            "PKCS#12 bundles (*.p12 *.pfx);;PEM certificate + key (*.pem *.crt);;All files (*)",
            start=in_workspace, parent=self,
        )
        inputs = QGroupBox("What to test")
        form = QFormLayout(inputs)
        form.addRow("Site address:", self.url)
        form.addRow("CA certificate:", ca_row)
        form.addRow("Client bundle:", bundle_row)
        form.addRow("Bundle password:", self.bundle_password)
        form.addRow("Username:", self.username)
        form.addRow("Password:", self.password)

        self.run_button = QPushButton("Run test")
        self.run_button.setToolTip('Run every step: bundle, connection, TLS handshake, certificate, login, '
                                   'protected page')
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run_test)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.setToolTip('Copy the whole report as text (no passwords in it), to send to your instructor')
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_report)
        self.result = QLabel()
        self.result.setWordWrap(True)
        actions = QHBoxLayout()
        actions.addWidget(self.run_button)
        actions.addWidget(self.result, 1)
        actions.addWidget(self.copy_button)

        self.steps = QTreeWidget()
        self.steps.setColumnCount(2)
        self.steps.setHeaderLabels(["Step", "Details"])
        self.steps.setWordWrap(True)
        self.steps.setUniformRowHeights(False)
        self.steps.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.steps.header().setStretchLastSection(True)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Test connection</h2>"))
        layout.addWidget(inputs)
        layout.addLayout(actions)
        layout.addWidget(self.steps, 1)

        session.site_changed.connect(self._prefill_url)
        session.ca_changed.connect(self._prefill_files)
        session.bundle_issued.connect(self._prefill_bundle)
        session.demo_user_changed.connect(self._prefill_user)
        self._restore_remembered()
        self._prefill_files()

    # -- remembered between runs (never the passwords) -----------------------------------
    _REMEMBERED = ("url", "ca_file", "bundle_file", "username")

    def _restore_remembered(self) -> None:
        settings = app_settings()
        for name in self._REMEMBERED:
            value = settings.value(f"test_connection/{name}")
            if isinstance(value, str) and value:
                getattr(self, name).setText(value)

    def _remember(self) -> None:
        settings = app_settings()
        for name in self._REMEMBERED:
            settings.setValue(f"test_connection/{name}", getattr(self, name).text().strip())

    # -- pre-filling from the workspace and session -----------------------------------
    def _prefill_url(self) -> None:
        if self.session.site_url:
            self.url.setText(self.session.site_url)

    def _prefill_files(self) -> None:
        ws = self.session.workspace
        if not self.ca_file.text() and ws.ca_cert_path.is_file():
            self.ca_file.setText(str(ws.ca_cert_path))
        if not self.bundle_file.text() and ws.clients_dir.is_dir():
            bundles = sorted(ws.clients_dir.glob("*.p12"), key=lambda p: p.stat().st_mtime, reverse=True)
            if bundles:
                self.bundle_file.setText(str(bundles[0]))

    def _prefill_bundle(self) -> None:
        bundle = self.session.last_bundle
        if bundle is not None:
            self.bundle_file.setText(str(bundle.path))
            self.bundle_password.setText(bundle.password)
        self._prefill_files()

    def _prefill_user(self) -> None:
        user = self.session.demo_user
        if user is not None:
            self.username.setText(user.name)
            self.password.setText(user.password)

    # -- running --------------------------------------------------------------------------
    def run_test(self) -> None:
        url = self.url.text().strip()
        if not url:
            self.session.messages.error("Nothing to test", "Type the site address, or start the demo site first.")
            return
        params = ConnectionTestInput(
            url=url,
            ca_cert=Path(self.ca_file.text().strip()),
            # An empty bundle field tests what the server does when no client certificate is sent.
            bundle=Path(self.bundle_file.text().strip()) if self.bundle_file.text().strip() else None,
            bundle_password=self.bundle_password.text(),
            username=self.username.text().strip() or None,
            password=self.password.text() or None,
        )
        self._remember()
        self.steps.clear()
        self.report = None
        self.copy_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.result.setText("Testing…")
        self.session.tasks.run(
            lambda: run_connection_test(params, on_step=self._relay.step.emit),
            on_success=self._finished,
            on_failure=self._crashed,
            owner=self,
            label="test connection",
        )

    @Slot(object)
    def _add_step(self, step: Step) -> None:
        detail = STATUS_WORDS[step.status]
        if step.status is Status.SKIPPED and step.cause:
            detail += f" — {step.cause}"
        item = QTreeWidgetItem([step.title, detail])
        item.setIcon(0, icon(STATUS_ICONS[step.status]))
        item.setData(0, Qt.ItemDataRole.UserRole, step.status.value)
        for name, value in step.facts.items():
            QTreeWidgetItem(item, [name, value]).setToolTip(1, value)  # long values are elided
        # A skipped step's cause is its reason, already shown beside the title.
        explained = [("Cause", step.cause), ("Fix", step.fix)] if step.status is not Status.SKIPPED else [
            ("Fix", step.fix)
        ]
        for caption, text in explained:
            if text:
                child = QTreeWidgetItem(item, [caption, text])
                child.setToolTip(1, text)
                font = child.font(0)
                font.setBold(True)
                child.setFont(0, font)
        self.steps.addTopLevelItem(item)
        item.setExpanded(step.status is not Status.SKIPPED)

    def _finished(self, report: ConnectionReport) -> None:
        self.report = report
        self.run_button.setEnabled(True)
        self.copy_button.setEnabled(True)
        failed = report.failed_step
        if report.ok:
            self.result.setText(styled("All steps passed.", Tone.GOOD))
        elif failed is not None:
            # Passed steps fold away so the failed step's cause and fix are in view; their facts stay one click away.
            for i in range(self.steps.topLevelItemCount()):
                item = self.steps.topLevelItem(i)
                if item is not None and item.data(0, Qt.ItemDataRole.UserRole) == Status.OK.value:
                    item.setExpanded(False)
                elif item is not None and item.data(0, Qt.ItemDataRole.UserRole) == Status.FAILED.value:
                    self.steps.scrollToItem(item)
            self.result.setText(
                styled(f"Failed at “{escape(failed.title)}”.", Tone.BAD) + " See the cause and fix below."
            )
        else:
            self.result.setText("Nothing was tested.")
        self.report_ready.emit(report)

    def _crashed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.result.setText("The test itself failed.")
        self.session.messages.error("Test Connection failed", message)

    def copy_report(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(self.report.to_text())

    def step_statuses(self) -> list[tuple[str, str]]:
        """(title, status) of every step shown, for tests and the report preview."""
        out = []
        for i in range(self.steps.topLevelItemCount()):
            item = self.steps.topLevelItem(i)
            assert item is not None
            out.append((item.text(0), str(item.data(0, Qt.ItemDataRole.UserRole))))
        return out

