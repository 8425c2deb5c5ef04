"""Bundle Doctor: what is inside a .p12, how it is encrypted, where it imports, and what to fix (offline)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
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

from core.doctor import DoctorReport, Verdict, diagnose_bundle
from gui.file_field import BUNDLE_FILES, CERTIFICATE_FILES, file_row
from gui.icons import icon
from gui.session import Session
from gui.tones import Tone, styled

VERDICT_ICONS = {Verdict.OK: "status-ok", Verdict.WARNING: "status-warning", Verdict.PROBLEM: "status-failed"}


class DoctorPage(QWidget):
    report_ready = Signal(object)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.report: DoctorReport | None = None

        self.bundle_file = QLineEdit()
        self.bundle_file.setToolTip('The .p12 to examine; nothing is sent anywhere')
        self.ca_file = QLineEdit()
        self.ca_file.setToolTip('Optional: the CA the bundle should chain to (a crl.pem beside it is checked too)')
        self.password = QLineEdit()
        self.password.setToolTip("The bundle's password, from the handout")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        in_workspace = lambda: str(session.workspace.root)  # noqa: E731
        bundle_row, _ = file_row(self.bundle_file, session.messages, "Client bundle", BUNDLE_FILES,
                                 start=in_workspace, parent=self)
        ca_row, _ = file_row(self.ca_file, session.messages, "CA certificate", CERTIFICATE_FILES,
                             start=in_workspace, parent=self)
        inputs = QGroupBox("Bundle to examine (nothing leaves this computer)")
        form = QFormLayout(inputs)
        form.addRow("Client bundle:", bundle_row)
        form.addRow("Bundle password:", self.password)
        form.addRow("CA certificate (optional):", ca_row)

        self.examine_button = QPushButton("Examine bundle")
        self.examine_button.setToolTip('Open the bundle and check its password, key, validity, purpose, chain '
                                       'and revocation')
        self.examine_button.setDefault(True)
        self.examine_button.clicked.connect(self.examine)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.setToolTip('Copy the findings as text')
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self.copy_report)
        self.result = QLabel()
        self.result.setWordWrap(True)
        actions = QHBoxLayout()
        actions.addWidget(self.examine_button)
        actions.addWidget(self.result, 1)
        actions.addWidget(self.copy_button)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Finding", "Details"])
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Bundle doctor</h2>"))
        layout.addWidget(inputs)
        layout.addLayout(actions)
        layout.addWidget(self.tree, 1)

        session.ca_changed.connect(self._prefill)
        session.bundle_issued.connect(self._prefill_bundle)
        self._prefill()

    def _prefill(self) -> None:
        ws = self.session.workspace
        if not self.ca_file.text() and ws.ca_cert_path.is_file():
            self.ca_file.setText(str(ws.ca_cert_path))

    def _prefill_bundle(self) -> None:
        bundle = self.session.last_bundle
        if bundle is not None:
            self.bundle_file.setText(str(bundle.path))
            self.password.setText(bundle.password)
        self._prefill()

    def examine(self) -> None:
        bundle = self.bundle_file.text().strip()
        if not bundle:
            self.session.messages.error("Nothing to examine", "Choose a .p12 bundle first.")
            return
        ca = self.ca_file.text().strip()
        path, password, ca_path = Path(bundle), self.password.text(), Path(ca) if ca else None
        self.tree.clear()
        self.report = None
        self.examine_button.setEnabled(False)
        self.copy_button.setEnabled(False)
        self.result.setText("Examining…")
        # PKCS#12 key derivation is deliberately slow: off the GUI thread.
        self.session.tasks.run(lambda: diagnose_bundle(path, password, ca_cert=ca_path),
                               on_success=self._show, on_failure=self._crashed, owner=self, label="bundle doctor")

    def _show(self, report: DoctorReport) -> None:
        self.report = report
        self.examine_button.setEnabled(True)
        self.copy_button.setEnabled(True)
        n = len(report.problems)
        self.result.setText(styled("Healthy: this bundle should work.", Tone.GOOD) if report.healthy
                            else styled(f"{n} problem{'s' if n != 1 else ''} to fix.", Tone.BAD)
                            + " See the checks below.")
        checks = QTreeWidgetItem(["Checks", ""])
        for check in report.checks:
            item = QTreeWidgetItem(checks, [check.name, check.detail])
            item.setIcon(0, icon(VERDICT_ICONS[check.verdict]))
            item.setData(0, Qt.ItemDataRole.UserRole, check.verdict.value)
            item.setToolTip(1, check.detail)
            if check.fix and check.verdict is not Verdict.OK:
                fix = QTreeWidgetItem(item, ["Fix", check.fix])
                fix.setToolTip(1, check.fix)
                font = fix.font(0)
                font.setBold(True)
                fix.setFont(0, font)
        sections = [checks]
        for title, facts in (("Inside", report.contents), ("Encryption", report.encryption)):
            if facts:
                section = QTreeWidgetItem([title, ""])
                for name, value in facts.items():
                    QTreeWidgetItem(section, [name, value]).setToolTip(1, value)
                sections.append(section)
        for i, ca in enumerate(report.ca_certificates, 1):
            section = QTreeWidgetItem([f"CA certificate {i}", ca.get("subject", "")])
            for name, value in ca.items():
                QTreeWidgetItem(section, [name, value])
            sections.append(section)
        self.tree.addTopLevelItems(sections)
        for item in sections:
            item.setExpanded(item.text(0) != "CA certificate 1")
        for i in range(checks.childCount()):  # a problem's fix is shown without a click
            child = checks.child(i)
            if child is not None:
                child.setExpanded(True)
        self.report_ready.emit(report)

    def _crashed(self, message: str) -> None:
        self.examine_button.setEnabled(True)
        self.result.setText("The doctor itself failed.")
        self.session.messages.error("Bundle doctor failed", message)

    def copy_report(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(self.report.to_text())

    def verdicts(self) -> dict[str, str]:
        """Check name → verdict, as shown; for tests."""
        top = self.tree.topLevelItem(0)
        if top is None:
            return {}
        children = [top.child(i) for i in range(top.childCount())]
        return {c.text(0): str(c.data(0, Qt.ItemDataRole.UserRole)) for c in children if c is not None}

