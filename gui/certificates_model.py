"""The registry as a Qt table: a thin adapter over :class:`core.registry.Record`."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor

from core.registry import Record

SORT_ROLE = Qt.ItemDataRole.UserRole
_Index = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    NAME = 0
    KIND = 1
    SERIAL = 2
    VALID_UNTIL = 3
    STATUS = 4
    FINGERPRINT = 5


HEADERS = {
    Column.NAME: "Name",
    Column.KIND: "Kind",
    Column.SERIAL: "Serial",
    Column.VALID_UNTIL: "Valid until",
    Column.STATUS: "Status",
    Column.FINGERPRINT: "Fingerprint (SHA-256)",
}
KIND_LABELS = {"ca": "CA", "server": "Server", "client": "Client"}


# Warn a month ahead: enough time to renew before a lesson breaks.
EXPIRING_SOON = dt.timedelta(days=30)

STATUS_COLOURS = {
    "valid": "#1a7f37",
    "expiring soon": "#9a6700",
    "expired": "#b00020",
    "revoked": "#b00020",
}


def status_of(record: Record, now: dt.datetime | None = None) -> str:
    """``valid``, ``expiring soon`` (within 30 days), ``expired`` or ``revoked``."""
    if record.status == "revoked":
        return "revoked"
    now = now or dt.datetime.now(dt.UTC)
    if record.is_expired(now):
        return "expired"
    return "expiring soon" if record.not_after - now <= EXPIRING_SOON else "valid"


class CertificateModel(QAbstractTableModel):
    """Rows are registry records, newest first as the registry lists them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[Record] = []

    def set_records(self, records: Sequence[Record]) -> None:
        self.beginResetModel()
        self._records = list(records)
        self.endResetModel()

    def record(self, row: int) -> Record:
        return self._records[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(
            Column
        ):
            return HEADERS[Column(section)]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._records):
            return None
        rec = self._records[index.row()]
        col = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(rec, col)
        if role == SORT_ROLE:
            if col is Column.VALID_UNTIL:
                return rec.not_after.isoformat()
            if col is Column.FINGERPRINT:
                return rec.fingerprint_sha256
            return self._display(rec, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col is Column.NAME:
                return rec.subject
            if col is Column.FINGERPRINT:
                return rec.fingerprint_sha256
            if col is Column.SERIAL:
                return rec.serial
            if col is Column.VALID_UNTIL:
                return f"from {_when(rec.not_before)} to {_when(rec.not_after)}"
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col is Column.STATUS:
            return QBrush(QColor(STATUS_COLOURS[status_of(rec)]))
        return None

    @staticmethod
    def _display(rec: Record, col: Column) -> str:
        if col is Column.NAME:
            return rec.common_name
        if col is Column.KIND:
            return KIND_LABELS.get(rec.kind, rec.kind)
        if col is Column.SERIAL:
            return rec.serial
        if col is Column.VALID_UNTIL:
            return _when(rec.not_after)
        if col is Column.STATUS:
            return status_of(rec)
        return short_fingerprint(rec.fingerprint_sha256)


def short_fingerprint(full: str) -> str:
    """First and last four bytes, as people compare fingerprints by eye; the full one is in the tooltip."""
    parts = full.split(":")
    if len(parts) <= 8:
        return full
    return ":".join(parts[:4]) + " … " + ":".join(parts[-4:])


def _when(moment: dt.datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def make_proxy(model: CertificateModel, parent: QObject | None = None) -> QSortFilterProxyModel:
    """Sorts and filters by :data:`SORT_ROLE` (dates as dates, full fingerprints) on every column, ignoring case."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.setFilterRole(SORT_ROLE)
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return proxy
