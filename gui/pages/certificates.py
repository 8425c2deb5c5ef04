"""Certificates: every certificate the CA issued, searchable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cryptography import x509
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.authority import Authority
from core.export import ExportFormat, ExportRefused, export_bundle, export_certificates
from core.passwords import generate_password
from core.registry import Record
from core.revocation import REASONS
from core.workspace import WorkspaceError, slugify
from gui.certificate_details import CertificateDetailsDialog
from gui.certificates_model import CertificateModel, Column, Rows, make_proxy, prepare_rows
from gui.messages import sentence
from gui.session import Session
from gui.wizards.issue_bundle import BundleReadyDialog


class CertificatesPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = CertificateModel(self)
        self.proxy = make_proxy(self.model, self)
        self.search = QLineEdit()
        self.search.setToolTip('Type part of a name, kind, serial, status (valid, expired, revoked…) or fingerprint')
        self.search.setPlaceholderText("Search name, kind, serial, status or fingerprint…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.VALID_UNTIL, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Serials are long random hex: they give way (elided in the middle, full in the tooltip).
        header.setSectionResizeMode(Column.SERIAL, QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel()
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Every field and extension of the selected certificate")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the selected certificate as PEM (.crt/.pem) or DER (.cer/.der), "
                                      "or a copy of a student's bundle (.p12)")
        self.renew_button = QPushButton("Renew…")
        self.renew_button.setToolTip("New key and serial, same name; a client gets a new bundle (password shown once)")
        self.renew_button.clicked.connect(self.renew_selected)
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setToolTip(
            "Revoke the selected certificate; a running site refuses it from the next connection"
        )
        self.details_button.clicked.connect(self.show_details)
        self.export_button.clicked.connect(self.export_selected)
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.table.doubleClicked.connect(lambda _index: self.show_details())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        actions = QHBoxLayout()
        actions.addWidget(self.details_button)
        actions.addWidget(self.export_button)
        actions.addWidget(self.renew_button)
        actions.addWidget(self.revoke_button)
        actions.addStretch(1)
        actions.addWidget(self.summary)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Certificates</h2>"))
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        session.certificates_changed.connect(self.refresh)
        session.ca_changed.connect(self.refresh)
        self._load_now()

    def refresh(self) -> None:
        """Re-read the registry on a worker (10,000 rows take ~200 ms) and show the newest answer."""
        ws = self.session.workspace
        self._generation = getattr(self, "_generation", 0) + 1
        generation = self._generation
        if not ws.registry_path.exists() and not ws.ca_cert_path.exists():  # a new workspace: nothing yet
            self._show(prepare_rows([]), generation)
            return
        self.session.tasks.run(
            lambda: prepare_rows(ws.registry.list()),
            on_success=lambda rows: self._show(rows, generation),
            on_failure=lambda msg: self.session.messages.error("The registry cannot be read", sentence(msg)),
            owner=self,
            label="read certificates",
        )

    def _load_now(self) -> None:
        """The first load, before the window shows (part of the start-up time, not a stall)."""
        self._generation = getattr(self, "_generation", 0) + 1
        records: list[Record] = []
        ws = self.session.workspace
        try:
            if ws.registry_path.exists() or ws.ca_cert_path.exists():  # a lost registry is said, not shown empty
                records = ws.registry.list()
        except (OSError, ValueError, WorkspaceError, sqlite3.Error) as exc:
            self.session.messages.error("The registry cannot be read", sentence(str(exc)))
        self._show(prepare_rows(records), self._generation)

    def _show(self, rows: Rows, generation: int) -> None:
        if generation != self._generation:  # a newer refresh is on its way
            return
        selected = self.selected()
        self.model.set_rows(rows)
        records = rows.records
        if selected is not None:
            self.select_serial(selected.serial)
        counts = {kind: sum(1 for r in records if r.kind == kind) for kind in ("ca", "server", "client")}
        self.summary.setText(
            f"{len(records)} certificates: {counts['ca']} CA, {counts['server']} server, {counts['client']} client"
        )
        self._update_buttons()

    # -- actions on the selected row -------------------------------------------------------
    def selected(self) -> Record | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.record(self.proxy.mapToSource(rows[0]).row())

    def select_serial(self, serial: str) -> None:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.model.record(self.proxy.mapToSource(index).row()).serial == serial:
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        record = self.selected()
        self.details_button.setEnabled(record is not None)
        self.export_button.setEnabled(record is not None)
        self.revoke_button.setEnabled(record is not None and record.kind != "ca" and record.status == "valid")
        self.renew_button.setEnabled(record is not None and record.kind in ("client", "server"))

    def _certificate(self, record: Record) -> x509.Certificate | None:
        try:
            return self.session.workspace.certificate_of(record)[0]
        except (OSError, ValueError, IndexError) as exc:
            self.session.messages.error("Certificate file missing", sentence(str(exc)))
            return None

    def show_details(self) -> CertificateDetailsDialog | None:
        record = self.selected()
        cert = self._certificate(record) if record else None
        if cert is None:
            return None
        self.details = CertificateDetailsDialog(cert, self)
        self.details.show()
        return self.details

    def export_selected(self) -> None:
        record = self.selected()
        cert = self._certificate(record) if record else None
        if record is None or cert is None:
            return
        stem = slugify(record.common_name)
        filters = "PEM certificate (*.crt *.pem);;DER certificate for Windows/macOS (*.cer *.der)"
        if record.bundle_path:
            filters += ";;The student's bundle, a copy with the same password (*.p12)"
        target = self.session.messages.ask_save_file("Export certificate", str(Path.home() / f"{stem}.crt"), filters)
        if not target:
            return
        path = Path(target)
        suffix = path.suffix.lower()
        workspace = self.session.workspace
        try:
            # The file dialog asked before replacing a file; the workspace's own files are never replaced.
            if suffix in (".p12", ".pfx"):
                if not record.bundle_path:
                    raise ExportRefused(f"{record.common_name} has no bundle; export the certificate as .crt")
                export_bundle(workspace.path_of(record.bundle_path), path, overwrite=True,
                              protected=workspace.protected_paths())
                what = "a copy of the bundle (same password)"
            else:
                fmt = ExportFormat.DER if suffix in (".cer", ".der") else ExportFormat.PEM
                export_certificates([cert], path, fmt=fmt, overwrite=True, protected=workspace.protected_paths())
                what = fmt.name
        except (ExportRefused, OSError) as exc:
            message = str(exc) if isinstance(exc, ExportRefused) else (exc.strerror or str(exc))
            self.session.messages.error("Export failed", sentence(message))
            return
        self.session.messages.info("Certificate exported", f"Saved {what} to {target}.")

    def revoke_selected(self) -> None:
        record = self.selected()
        if record is None or record.kind == "ca" or record.status != "valid":
            return
        reason = self.session.messages.ask_choice(
            "Revoke certificate",
            f"Revoke {record.common_name} ({record.serial[:16]}…)? The site refuses it from the next connection.\n"
            "Reason:",
            list(REASONS),
        )
        if reason is None:
            return
        serial = record.serial

        def revoke(authority: Authority) -> None:
            self.session.tasks.run(
                lambda: self.session.workspace.revoke(authority, serial, reason=reason),
                on_success=lambda rec: self._revoked(rec),
                on_failure=lambda msg: self.session.messages.error("Revocation failed", sentence(msg)),
                owner=self,
                label="revoke",
            )

        self.session.with_authority(revoke)

    def renew_selected(self) -> None:
        record = self.selected()
        if record is None or record.kind not in ("client", "server"):
            return
        keep, revoke = "Renew; the old certificate stays valid until it expires", "Renew and revoke the old one"
        choice = self.session.messages.ask_choice(
            "Renew certificate", f"Renew {record.common_name}: a new key and serial with the same name.", [revoke, keep]
        )
        if choice is None:
            return
        serial, revoke_old = record.serial, choice == revoke
        password = generate_password() if record.kind == "client" else None

        def renew(authority: Authority) -> None:
            self.session.tasks.run(
                lambda: self.session.workspace.renew(authority, serial, password=password, revoke_old=revoke_old),
                on_success=lambda rec: self._renewed(rec, password),
                on_failure=lambda msg: self.session.messages.error("Renewal failed", sentence(msg)),
                owner=self,
                label="renew",
            )

        self.session.with_authority(renew)

    def _renewed(self, record: Record, password: str | None) -> None:
        self.session.certificates_changed.emit()
        self.select_serial(record.serial)
        if record.kind == "client" and password is not None and record.bundle_path:
            self.bundle_dialog = BundleReadyDialog(self.session.workspace.path_of(record.bundle_path), password, self)
            self.bundle_dialog.show()
        else:
            self.session.messages.info("Certificate renewed", f"{record.common_name} has a new certificate "
                                       f"({record.serial}); a running site uses it from its next connection.")

    def _revoked(self, record: Record) -> None:
        self.session.certificates_changed.emit()
        self.session.messages.info(
            "Certificate revoked",
            f"{record.common_name} is revoked ({record.serial}). The revocation list was re-signed; "
            "a running demo site refuses this certificate from its next connection.",
        )
