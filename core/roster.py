"""Class rosters: one bundle per row of a CSV, plus a handout of file names and passwords.

The roster is untrusted input. Every row is checked before anything is issued and
problems are reported by line number; names become file names (through
:func:`core.workspace.slugify`) and spreadsheet cells (neutralised in the handout,
see :func:`spreadsheet_safe`).

Key generation and PKCS#12 encryption, the slow parts, run in worker processes
(``concurrent.futures.ProcessPoolExecutor``, one per CPU core). Only the main
process writes files and registry rows, one bundle at a time through
:meth:`Workspace.store_client_files`, so a cancelled batch, an exception or a
killed worker never leaves a half-written bundle or a row without its files.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.authority import Authority
from core.bundles import BundleProfile, check_bundle_password, encode_p12
from core.keys import KeyType
from core.passwords import generate_password
from core.profiles import CLIENT_DEFAULT_DAYS, check_email, make_name
from core.storage import PRIVATE, atomic_write, make_private_dir
from core.workspace import Workspace, WorkspaceError, slugify

MAX_ROSTER_BYTES = 1024 * 1024
MAX_ROSTER_ROWS = 5000
HANDOUT_NAME = "handout.csv"
# Cells starting with these are formulas (or DDE) in Excel, LibreOffice and Google
# Sheets (OWASP "CSV injection"); tab and CR too, since some importers strip them first.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Progress = Callable[[int, int, str], None]


class RosterError(ValueError):
    """The roster has problems; ``problems`` holds one ``line N: ...`` message per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"the roster has {len(self.problems)} problem(s): {shown}{more}")


@dataclass(frozen=True)
class RosterRow:
    line: int
    name: str
    email: str | None
    password: str | None
    stem: str


@dataclass
class RosterResult:
    """What a batch produced: the bundles issued (all complete) and the handout."""

    out_dir: Path
    handout: Path | None
    issued: list[tuple[RosterRow, Path, str]] = field(default_factory=list)  # row, bundle, password
    total: int = 0
    cancelled: bool = False

    @property
    def complete(self) -> bool:
        return not self.cancelled and len(self.issued) == self.total


def spreadsheet_safe(cell: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula, by prefixing a quote."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def parse_roster(data: bytes, *, out_dir: Path | None = None) -> list[RosterRow]:
    """Check every row of a roster CSV (``name[,email[,password]]``, optional header).

    Args:
        data: the file's bytes (UTF-8, with or without BOM).
        out_dir: where the bundles will go; rows whose files exist there are refused.

    Returns:
        The rows, in file order.

    Raises:
        RosterError: one message per problem, each naming its line.
    """
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError([f"the roster is larger than {MAX_ROSTER_BYTES // 1024} KiB; split it"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterError([f"line {line}: not UTF-8 text (save the roster as CSV UTF-8)"]) from None
    problems: list[str] = []
    rows: list[RosterRow] = []
    columns = {"name": 0, "email": 1, "password": 2}
    stems: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {reader.line_num}: not valid CSV ({exc})")
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if first:
            first = False
            lowered = [c.strip().lower().replace("-", "") for c in cells]
            if "name" in lowered:
                columns = {k: lowered.index(k) for k in ("name", "email", "password") if k in lowered}
                continue
        if len(rows) >= MAX_ROSTER_ROWS:
            problems.append(f"line {line}: more than {MAX_ROSTER_ROWS} students; split the roster")
            break
        row = _check_row(line, cells, columns, problems)
        if row is None:
            continue
        if row.stem in stems:
            problems.append(f"line {line}: {row.name!r} gives the same file name ({row.stem}.p12) as line "
                            f"{stems[row.stem]}; make the names differ")
            continue
        stems[row.stem] = line
        if out_dir is not None and ((out_dir / f"{row.stem}.p12").exists() or (out_dir / f"{row.stem}.crt").exists()):
            problems.append(f"line {line}: {out_dir / (row.stem + '.p12')} already exists; nothing is overwritten")
            continue
        rows.append(row)
    if not rows and not problems:
        problems.append("the roster has no students (expected lines like: name,email,password)")
    if problems:
        raise RosterError(problems)
    return rows


def _check_row(line: int, cells: list[str], columns: dict[str, int], problems: list[str]) -> RosterRow | None:
    def cell(key: str) -> str:
        i = columns.get(key)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    name, email, password = cell("name"), cell("email"), cell("password")
    before = len(problems)
    try:
        make_name(name)
        stem = slugify(name)
    except ValueError as exc:
        problems.append(f"line {line}: {exc}")
        stem = ""
    if email:
        try:
            email = check_email(email)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if password:
        try:
            check_bundle_password(password)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
        # Such a password would be shown altered (quoted) in the handout's spreadsheet cell.
        if password.startswith(_FORMULA_START):
            problems.append(f"line {line}: a password must not start with = + - @ or a tab (spreadsheets run it)")
    if len(problems) > before:
        return None
    return RosterRow(line=line, name=name, email=email or None, password=password or None, stem=stem)


# -- the batch ---------------------------------------------------------------------------
# Worker-process state, set once per worker by _init_worker (the CA is sent once, not per job).
_worker_authority: Authority | None = None


def _init_worker(ca_der: bytes, key_der: bytes, chain_der: list[bytes]) -> None:
    global _worker_authority
    key = serialization.load_der_private_key(key_der, None)
    _worker_authority = Authority(
        x509.load_der_x509_certificate(ca_der),
        key,  # type: ignore[arg-type]
        tuple(x509.load_der_x509_certificate(d) for d in chain_der),
    )


@dataclass(frozen=True)
class _Job:
    name: str
    email: str | None
    password: str
    key_type: str
    valid_days: int
    profile: str


def _make_bundle(job: _Job) -> tuple[bytes, bytes]:
    """In a worker: new key, certificate and encrypted .p12. Returns (certificate DER, p12)."""
    authority = _worker_authority
    assert authority is not None, "worker not initialised"
    issued = authority.issue_client(name=job.name, email=job.email, key_type=KeyType(job.key_type),
                                    valid_days=job.valid_days)
    p12 = encode_p12(key=issued.key, certificate=issued.certificate, ca_certificates=authority.chain_to_root(),
                     password=job.password, friendly_name=job.name, profile=BundleProfile(job.profile))
    return issued.certificate.public_bytes(serialization.Encoding.DER), p12


def issue_roster(
    workspace: Workspace,
    authority: Authority,
    rows: Sequence[RosterRow],
    *,
    out_dir: Path,
    key_type: KeyType = KeyType.EC_P256,
    valid_days: int = CLIENT_DEFAULT_DAYS,
    profile: BundleProfile = BundleProfile.MODERN,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    workers: int | None = None,
) -> RosterResult:
    """Issue one bundle per row into ``out_dir`` and write ``out_dir/handout.csv``.

    Args:
        progress: called in this thread as ``progress(done, total, name)`` after each bundle.
        cancel: set it to stop; bundles already written stay (complete), the rest are not issued.
        workers: worker processes (default: one per CPU core).

    Returns:
        The bundles issued; the handout lists exactly those (it is written even after a cancel).

    Raises:
        WorkspaceError: a worker process died (the bundles finished before it are kept and listed).
        ValueError: the lifetime is longer than the CA's.
    """
    authority._check_within_ca(valid_days)
    out_dir = make_private_dir(Path(out_dir))
    result = RosterResult(out_dir=out_dir, handout=None, total=len(rows))
    passwords = {row.line: row.password or generate_password() for row in rows}
    jobs = {row.line: _Job(row.name, row.email, passwords[row.line], key_type.value, valid_days, profile.value)
            for row in rows}
    by_line = {row.line: row for row in rows}
    ca_der = authority.certificate.public_bytes(serialization.Encoding.DER)
    # The CA key goes to our own worker processes through a pipe, never to disk.
    key_der = authority.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
    chain_der = [c.public_bytes(serialization.Encoding.DER) for c in authority.chain]
    # spawn, not fork: forking a process that runs threads (the GUI, the site) can deadlock.
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=max(1, min(workers or os.cpu_count() or 1, len(rows) or 1)),
        mp_context=context, initializer=_init_worker, initargs=(ca_der, key_der, chain_der),
    )
    try:
        futures = {pool.submit(_make_bundle, job): line for line, job in jobs.items()}
        for future in concurrent.futures.as_completed(futures):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            row = by_line[futures[future]]
            try:
                cert_der, p12 = future.result()
            except BrokenProcessPool:
                raise WorkspaceError(
                    f"a worker process stopped unexpectedly; {len(result.issued)} of {len(rows)} bundles were "
                    "issued and are listed in the handout"
                ) from None
            cert = x509.load_der_x509_certificate(cert_der)
            bundle = workspace.store_client_files(cert, p12, name=row.name, bundle_path=out_dir / f"{row.stem}.p12",
                                                  cert_path=out_dir / f"{row.stem}.crt")
            result.issued.append((row, bundle.bundle_path, passwords[row.line]))
            if progress is not None:
                progress(len(result.issued), len(rows), row.name)
            if cancel is not None and cancel.is_set():
                result.cancelled = len(result.issued) < len(rows)
                break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        result.handout = _write_handout(out_dir, result.issued)
    return result


def _write_handout(out_dir: Path, issued: Sequence[tuple[RosterRow, Path, str]]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["name", "email", "file", "password"])
    for row, bundle, password in sorted(issued, key=lambda item: item[0].line):
        writer.writerow([spreadsheet_safe(row.name), spreadsheet_safe(row.email or ""), bundle.name,
                         spreadsheet_safe(password)])
    path = out_dir / HANDOUT_NAME
    n = 1
    while path.exists():  # never overwrite an earlier batch's passwords
        n += 1
        path = out_dir / f"handout-{n}.csv"
    # Owner-only: it holds every bundle's password.
    atomic_write(path, buffer.getvalue().encode("utf-8-sig"), mode=PRIVATE)
    return path


def read_roster_file(path: Path) -> bytes:
    """Raises: WorkspaceError when the roster cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_ROSTER_BYTES + 1)
    except OSError as exc:
        raise WorkspaceError(f"cannot read the roster {path}: {exc.strerror}") from None
    return data
