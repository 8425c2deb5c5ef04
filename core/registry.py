"""The SQLite registry of every certificate a workspace's CA has issued."""

from __future__ import annotations

import builtins
import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from core.authority import common_name

SCHEMA_VERSION = 3

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ca', 'server', 'client')),
        common_name TEXT NOT NULL,
        subject TEXT NOT NULL,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL,
        fingerprint_sha256 TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
        revoked_at TEXT,
        revocation_reason TEXT,
        cert_path TEXT,
        bundle_path TEXT,
        issued_at TEXT NOT NULL
    );
    CREATE INDEX certificates_cn ON certificates (common_name);
    """,
    2: """
    CREATE TABLE crl_state (id INTEGER PRIMARY KEY CHECK (id = 1), number INTEGER NOT NULL);
    INSERT INTO crl_state (id, number) VALUES (1, 0);
    """,
    # 3: a row is written "pending" before its files and marked done after them, so a
    # crash in between is found (and rolled back) when the workspace is next opened.
    3: """
    ALTER TABLE certificates ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE certificates ADD COLUMN email TEXT;
    CREATE INDEX certificates_status ON certificates (status);
    CREATE INDEX certificates_issued_at ON certificates (issued_at);
    """,
}


@dataclass(frozen=True)
class Record:
    """One registry row."""

    serial: str
    kind: str
    common_name: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint_sha256: str
    status: str
    cert_path: str | None
    bundle_path: str | None
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    pending: bool = False

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) >= self.not_after


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex, as browsers show it."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "X")


class Registry:
    """Issued certificates, stored in ``registry.sqlite3`` in the workspace."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            # Owner-only from the start: it names every student and their e-mail address.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._connect() as db:
            self._migrate(db)
        for suffix in ("", "-wal", "-shm"):  # an older workspace's 0644 registry, and SQLite's side files
            with contextlib.suppress(OSError):
                os.chmod(self.path.with_name(self.path.name + suffix), 0o600)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"the registry {self.path} was written by a newer mTLS Lab (schema {version}); update the app"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            db.executescript(_MIGRATIONS[target])
            db.execute(f"PRAGMA user_version = {target}")

    def add(
        self,
        cert: x509.Certificate,
        *,
        kind: str,
        cert_path: str | None = None,
        bundle_path: str | None = None,
        pending: bool = False,
    ) -> Record:
        """Record an issued certificate.

        Args:
            pending: the files are not written yet; :meth:`mark_done` follows them.

        Raises:
            ValueError: the serial is already recorded (serials are never reused).
        """
        row = (
            serial_hex(cert),
            kind,
            common_name(cert),
            cert.subject.rfc4514_string(),
            cert.not_valid_before_utc.isoformat(),
            cert.not_valid_after_utc.isoformat(),
            fingerprint(cert),
            cert_path,
            bundle_path,
            dt.datetime.now(dt.UTC).isoformat(),
            int(pending),
        )
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO certificates (serial, kind, common_name, subject, not_before, not_after,"
                    " fingerprint_sha256, cert_path, bundle_path, issued_at, pending)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"serial {row[0]} is already in the registry") from exc
        return self.get(row[0])

    def get(self, serial: str) -> Record:
        """Raises: KeyError when the serial is unknown."""
        with self._connect() as db:
            row = db.execute(_SELECT + " WHERE serial = ?", (serial.upper(),)).fetchone()
        if row is None:
            raise KeyError(serial)
        return _record(row)

    def list(
        self,
        *,
        kind: str | None = None,
        status: str | None = None,
        search: str | None = None,
        limit: int | None = None,
    ) -> list[Record]:
        """Every finished record, newest first, filtered in SQL (instant for 10,000 rows).

        Args:
            kind: only ``ca``, ``server`` or ``client``.
            status: only ``valid`` or ``revoked``.
            search: a case-insensitive part of the name or serial.
            limit: at most this many rows.
        """
        where = ["pending = 0"]
        params: builtins.list[object] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if search:
            where.append("(common_name LIKE ? ESCAPE '\\' OR serial LIKE ? ESCAPE '\\')")
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [pattern, pattern]
        sql = _SELECT + " WHERE " + " AND ".join(where) + " ORDER BY issued_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect() as db:
            rows = db.execute(sql, params).fetchall()
        return [_record(r) for r in rows]

    def pending(self) -> builtins.list[Record]:
        """Rows whose files were being written when the app stopped."""
        with self._connect() as db:
            rows = db.execute(_SELECT + " WHERE pending = 1").fetchall()
        return [_record(r) for r in rows]

    def mark_done(self, serial: str) -> None:
        """The row's files are all in place."""
        with self._connect() as db:
            db.execute("UPDATE certificates SET pending = 0 WHERE serial = ?", (serial,))

    def discard(self, serial: str) -> None:
        """Forget a pending row whose files never made it (the certificate was never handed out).

        Raises:
            ValueError: the row is not pending (finished rows are never deleted).
        """
        with self._connect() as db:
            cur = db.execute("DELETE FROM certificates WHERE serial = ? AND pending = 1", (serial,))
            if cur.rowcount == 0 and db.execute(
                "SELECT 1 FROM certificates WHERE serial = ?", (serial,)
            ).fetchone():
                raise ValueError(f"serial {serial} is finished; only pending rows can be discarded")

    def move_files(self, serial: str, *, cert_path: str | None, bundle_path: str | None) -> Record:
        """Record that a certificate's files now live elsewhere (archived)."""
        with self._connect() as db:
            db.execute(
                "UPDATE certificates SET cert_path = ?, bundle_path = ? WHERE serial = ?",
                (cert_path, bundle_path, serial),
            )
        return self.get(serial)

    def by_bundle_path(self, bundle_path: str) -> Record | None:
        """The finished row whose bundle is at ``bundle_path``, if any."""
        with self._connect() as db:
            row = db.execute(
                _SELECT + " WHERE bundle_path = ? AND pending = 0 ORDER BY issued_at DESC LIMIT 1", (bundle_path,)
            ).fetchone()
        return _record(row) if row else None

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM certificates WHERE pending = 0").fetchone()[0])

    def revoke(self, serial: str, *, reason: str, when: dt.datetime | None = None) -> Record:
        """Mark a certificate revoked.

        Raises:
            KeyError: the serial is unknown.
            ValueError: it is already revoked, or it is the CA itself.
        """
        record = self.get(serial)
        if record.kind == "ca":
            raise ValueError("the CA certificate cannot revoke itself; create a new CA instead")
        if record.status == "revoked":
            raise ValueError(f"{record.common_name} ({record.serial}) is already revoked")
        when = when or dt.datetime.now(dt.UTC)
        with self._connect() as db:
            db.execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE serial = ?",
                (when.isoformat(), reason, record.serial),
            )
        return self.get(record.serial)

    def revoked(self) -> builtins.list[tuple[str, dt.datetime, str]]:
        """(serial, revocation time, reason) of every revoked certificate."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE status = 'revoked'"
            ).fetchall()
        return [(r[0], dt.datetime.fromisoformat(r[1]), r[2]) for r in rows]

    def next_crl_number(self, *, above: int = 0) -> int:
        """Increment and return the CRL number (RFC 5280: monotonically increasing).

        Args:
            above: the number of the CRL already published; the new one is greater even when
                this registry's counter is behind it (a registry restored from an older backup).
        """
        with self._connect() as db:
            db.execute("UPDATE crl_state SET number = MAX(number, ?) + 1 WHERE id = 1", (above,))
            return int(db.execute("SELECT number FROM crl_state WHERE id = 1").fetchone()[0])

    def valid_client_named(self, name: str, *, match: Callable[[str, str], bool]) -> Record | None:
        """A valid, unexpired client row (finished or still being written) whose name ``match``-es ``name``."""
        now = dt.datetime.now(dt.UTC).isoformat()
        # Only names and dates are read for the scan (a batch calls this once per student, on the
        # thread that also serves the GUI's progress): the full row only for a match.
        with self._connect() as db:
            rows = db.execute(
                "SELECT serial, common_name FROM certificates WHERE kind = 'client' AND status = 'valid'"
                " AND not_after > ? ORDER BY issued_at DESC", (now,)
            ).fetchall()
        for serial, common in rows:
            if match(common, name):
                return self.get(serial)
        return None

    def find_client(self, name: str) -> Record | None:
        """The newest valid client certificate for ``name``, if any."""
        for rec in self.list(kind="client"):
            if rec.common_name == name and rec.status == "valid":
                return rec
        return None


_SELECT = (
    "SELECT serial, kind, common_name, subject, not_before, not_after, fingerprint_sha256, status,"
    " cert_path, bundle_path, revoked_at, revocation_reason, pending FROM certificates"
)


def _record(row: tuple[object, ...]) -> Record:
    return Record(
        serial=str(row[0]),
        kind=str(row[1]),
        common_name=str(row[2]),
        subject=str(row[3]),
        not_before=dt.datetime.fromisoformat(str(row[4])),
        not_after=dt.datetime.fromisoformat(str(row[5])),
        fingerprint_sha256=str(row[6]),
        status=str(row[7]),
        cert_path=None if row[8] is None else str(row[8]),
        bundle_path=None if row[9] is None else str(row[9]),
        revoked_at=None if row[10] is None else dt.datetime.fromisoformat(str(row[10])),
        revocation_reason=None if row[11] is None else str(row[11]),
        pending=bool(row[12]),
    )
