"""Certificates: every certificate the CA issued, searchable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from core.registry import Record
from gui.certificates_model import CertificateModel, Column, make_proxy
from gui.messages import sentence
from gui.session import Session


class CertificatesPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = CertificateModel(self)
        self.proxy = make_proxy(self.model, self)
        self.search = QLineEdit()
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
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Certificates</h2>"))
        layout.addWidget(self.search)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        session.certificates_changed.connect(self.refresh)
        session.ca_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        # A local SQLite read of a few hundred rows: fast enough for the GUI thread.
        records: list[Record] = []
        try:
            if self.session.workspace.registry_path.exists():
                records = self.session.workspace.registry.list()
        except (OSError, ValueError) as exc:
            self.session.messages.error("The registry cannot be read", sentence(str(exc)))
        self.model.set_records(records)
        counts = {kind: sum(1 for r in records if r.kind == kind) for kind in ("ca", "server", "client")}
        self.summary.setText(
            f"{len(records)} certificates: {counts['ca']} CA, {counts['server']} server, {counts['client']} client"
        )
