"""The registry as a Qt table: a thin adapter over :class:`core.registry.Record`."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
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
from gui.tones import Tone, tone

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

STATUS_TONES = {
    "valid": Tone.GOOD,
    "expiring soon": Tone.WARNING,
    "expired": Tone.BAD,
    "revoked": Tone.BAD,
}


def status_of(record: Record, now: dt.datetime | None = None) -> str:
    """``valid``, ``expiring soon`` (within 30 days), ``expired`` or ``revoked``."""
    if record.status == "revoked":
        return "revoked"
    now = now or dt.datetime.now(dt.UTC)
    if record.is_expired(now):
        return "expired"
    return "expiring soon" if record.not_after - now <= EXPIRING_SOON else "valid"


@dataclass
class Rows:
    """Everything the table shows, computed once (off the GUI thread when there are many)."""

    records: list[Record]
    display: list[tuple[str, ...]]
    keys: list[tuple[str, ...]]
    haystack: list[str]
    status: list[str]


def prepare_rows(records: Sequence[Record], now: dt.datetime | None = None) -> Rows:
    """Display strings, sort keys and search text for every record; no Qt, so a worker can run it."""
    now = now or dt.datetime.now(dt.UTC)
    records = list(records)
    status = [status_of(rec, now) for rec in records]
    pairs = list(zip(records, status, strict=True))
    return Rows(
        records=records,
        display=[(rec.common_name, KIND_LABELS.get(rec.kind, rec.kind), rec.serial, _when(rec.not_after), st,
                  short_fingerprint(rec.fingerprint_sha256)) for rec, st in pairs],
        keys=[(rec.common_name.lower(), rec.kind, rec.serial, rec.not_after.isoformat(), st, rec.fingerprint_sha256)
              for rec, st in pairs],
        haystack=["\n".join((rec.common_name, KIND_LABELS.get(rec.kind, rec.kind), rec.serial, st,
                             rec.fingerprint_sha256, rec.fingerprint_sha256.replace(":", ""))).lower()
                  for rec, st in pairs],
        status=status,
    )


class CertificateModel(QAbstractTableModel):
    """Rows are registry records, newest first as the registry lists them.

    Display strings, sort keys and the search text of every row are computed once per
    :meth:`set_records`, and :meth:`sort` orders the rows in Python in one pass: with
    10,000 certificates, sorting through ``data()`` calls for every comparison took
    seconds; this takes milliseconds (bench/certificates_table.py).
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: list[Record] = []
        self._display: list[tuple[str, ...]] = []
        self._keys: list[tuple[str, ...]] = []
        self._haystack: list[str] = []
        self._status: list[str] = []
        self._sorted_by: tuple[int, Qt.SortOrder] | None = None

    def set_records(self, records: Sequence[Record]) -> None:
        self.set_rows(prepare_rows(records))

    def set_rows(self, rows: Rows) -> None:
        """Show rows made by :func:`prepare_rows` (which a worker thread can run)."""
        self.beginResetModel()
        self._records, self._display, self._keys = rows.records, rows.display, rows.keys
        self._haystack, self._status = rows.haystack, rows.status
        if self._sorted_by is not None:
            self._reorder(*self._sorted_by)
        self.endResetModel()

    def record(self, row: int) -> Record:
        return self._records[row]

    def matches(self, row: int, needle: str) -> bool:
        """Whether ``needle`` (lower case) is in the row's name, kind, serial, status or fingerprint."""
        return needle in self._haystack[row]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(Column):
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        new_row_of = self._reorder(column, order)
        self.changePersistentIndexList(
            persistent, [self.index(new_row_of[i.row()], i.column()) for i in persistent]
        )
        self._sorted_by = (column, order)
        self.layoutChanged.emit()

    def _reorder(self, column: int, order: Qt.SortOrder) -> dict[int, int]:
        ranks = sorted(range(len(self._records)), key=lambda i: self._keys[i][column],
                       reverse=order == Qt.SortOrder.DescendingOrder)
        self._records = [self._records[i] for i in ranks]
        self._display = [self._display[i] for i in ranks]
        self._keys = [self._keys[i] for i in ranks]
        self._haystack = [self._haystack[i] for i in ranks]
        self._status = [self._status[i] for i in ranks]
        return {old: new for new, old in enumerate(ranks)}

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
        row, col = index.row(), index.column()
        if not index.isValid() or not 0 <= row < len(self._records) or not 0 <= col < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display[row][col]
        if role == SORT_ROLE:
            return self._keys[row][col]
        if role == Qt.ItemDataRole.ToolTipRole:
            rec = self._records[row]
            if col == Column.NAME:
                return rec.subject
            if col == Column.FINGERPRINT:
                return rec.fingerprint_sha256
            if col == Column.SERIAL:
                return rec.serial
            if col == Column.VALID_UNTIL:
                return f"from {_when(rec.not_before)} to {_when(rec.not_after)}"
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col == Column.STATUS:
            return QBrush(QColor(tone(STATUS_TONES[self._status[row]])))
        return None


class CertificateProxy(QSortFilterProxyModel):
    """Search over every column in one precomputed string per row; sorting is done by the source model."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""

    def setFilterFixedString(self, pattern: str) -> None:
        self.beginFilterChange()  # Qt 6.9+: invalidateFilter() is deprecated
        self._needle = pattern.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        model = self.sourceModel()
        return not self._needle or (isinstance(model, CertificateModel) and model.matches(source_row, self._needle))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        # The source sorts itself in one Python pass; this proxy keeps its order.
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)


def short_fingerprint(full: str) -> str:
    """First and last four bytes, as people compare fingerprints by eye; the full one is in the tooltip."""
    parts = full.split(":")
    if len(parts) <= 8:
        return full
    return ":".join(parts[:4]) + " … " + ":".join(parts[-4:])


def _when(moment: dt.datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def make_proxy(model: CertificateModel, parent: QObject | None = None) -> CertificateProxy:
    """The searchable, sortable view of ``model`` the Certificates area shows."""
    proxy = CertificateProxy(parent)
    proxy.setSourceModel(model)
    return proxy
