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
import contextlib
import csv
import ctypes
import io
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
from core.workspace import Workspace, WorkspaceError, name_key, slugify

MAX_ROSTER_BYTES = 1024 * 1024
MAX_ROSTER_ROWS = 5000
# More workers than cores only adds memory (each holds a CA key copy) and context switches.
MAX_WORKERS_PER_CORE = 4
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
        n = len(self.problems)
        super().__init__(f"the roster has {n} problem{'' if n == 1 else 's'}: {shown}{more}")


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
    # Rows refused while the batch ran: another process gave that student a certificate meanwhile.
    skipped: list[tuple[RosterRow, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.cancelled and len(self.issued) == self.total


def spreadsheet_safe(cell: str) -> str:
    """Neutralise a cell a spreadsheet would run as a formula, by prefixing a quote."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def max_workers() -> int:
    return MAX_WORKERS_PER_CORE * (os.cpu_count() or 1)


def check_batch_options(*, valid_days: int, workers: int | None = None) -> None:
    """Refuse a lifetime or worker count that cannot work, before anything is created.

    Raises:
        ValueError: ``valid_days`` is below 1, or ``workers`` below 1 or above :func:`max_workers`.
    """
    if valid_days < 1:
        raise ValueError(f"a certificate must be valid for at least 1 day (got {valid_days})")
    if workers is not None and not 1 <= workers <= max_workers():
        raise ValueError(f"--workers {workers}: choose 1 to {max_workers()} ({MAX_WORKERS_PER_CORE} per CPU core; "
                         "the default, one per core, is usually fastest)")


def check_out_dir(workspace: Workspace, out_dir: Path) -> None:
    """Refuse an output folder where a student's file could replace one of the workspace's own.

    ``--out WORKSPACE/ca`` with a student called "Root" would write ``ca/root.crt``: the
    certificate exports and the server chain take as the root CA.

    Raises:
        RosterError: ``out_dir`` is the workspace itself or inside its ca/, secrets/, server/ or site/.
    """
    if Path(out_dir).expanduser().exists() and not Path(out_dir).expanduser().is_dir():
        raise RosterError([f"--out {out_dir} is a file, not a folder; give a folder for the bundles"])
    target = Path(os.path.normpath(Path(out_dir).expanduser().absolute()))
    root = Path(os.path.normpath(workspace.root.absolute()))
    for candidate in {target, target.resolve()}:
        if candidate in (root, root.resolve()):
            raise RosterError([f"{out_dir} is the workspace folder itself; choose a folder of its own for the "
                               f"bundles (for example {workspace.root / 'class-1'})"])
        for guarded in (workspace.root / "ca", workspace.secrets_dir, workspace.root / "server",
                        workspace.users_path.parent):
            for guard in {Path(os.path.normpath(guarded.absolute())), guarded.resolve()}:
                if candidate == guard or guard in candidate.parents:
                    raise RosterError([f"{out_dir} is inside the workspace's {guard.name}/ folder, where a "
                                       "student's file could replace the CA's or the site's own; choose another "
                                       "folder"])


def _valid_names(workspace: Workspace) -> set[str]:
    return {name_key(r.common_name) for r in workspace.registry.list(kind="client", status="valid")
            if not r.is_expired()}


def _already_issued_problems(rows: Sequence[RosterRow], names: set[str]) -> list[str]:
    return [f"line {row.line}: {row.name!r} already has a valid certificate; renew it, or revoke it first"
            for row in rows if name_key(row.name) in names]


def parse_roster(data: bytes, *, out_dir: Path | None = None, workspace: Workspace | None = None,
                 skip_issued: list[RosterRow] | None = None) -> list[RosterRow]:
    """Check every row of a roster CSV (``name[,email[,password]]``, optional header).

    Args:
        data: the file's bytes (UTF-8, with or without BOM).
        out_dir: where the bundles will go; rows whose files exist there are refused.
        workspace: rows naming someone with a valid certificate in its registry are refused
            (as ``issue-client`` refuses them).
        skip_issued: instead of refusing those rows, leave them out and append them here: how an
            interrupted or partly failed batch is finished with the same roster.

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
    if workspace is not None and out_dir is not None:
        check_out_dir(workspace, out_dir)
    valid_names = _valid_names(workspace) if workspace is not None else set()
    columns = {"name": 0, "email": 1, "password": 2}
    stems: dict[str, int] = {}
    # strict: an unclosed quote is an error, not a name swallowing the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
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
            if {"email", "password"} & set(lowered):
                # A header naming the other columns but not "name": its students would be called "email".
                problems.append(f"line {line}: this header has no 'name' column (expected name,email,password)")
                break
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
        if valid_names and (already := _already_issued_problems([row], valid_names)):
            if skip_issued is not None:
                skip_issued.append(row)
            else:
                problems += already
            continue
        if out_dir is not None and ((out_dir / f"{row.stem}.p12").exists() or (out_dir / f"{row.stem}.crt").exists()):
            problems.append(f"line {line}: {out_dir / (row.stem + '.p12')} already exists; nothing is overwritten")
            continue
        rows.append(row)
    if not rows and not problems and not skip_issued:
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
    # Spreadsheets in ';'-separator locales (German, French...) split the handout's cells at ';',
    # so text after one would start a new cell, and "=..." there would be run as a formula.
    for what, value in (("name", name), ("password", password)):
        if ";" in value:
            problems.append(f"line {line}: a {what} must not contain ';' (spreadsheets in some countries split "
                            "cells there)")
    if len(problems) > before:
        return None
    return RosterRow(line=line, name=name, email=email or None, password=password or None, stem=stem)


# -- the batch ---------------------------------------------------------------------------
WORKER_NICENESS = 5
# Worker-process state, set once per worker by _init_worker (the CA is sent once, not per job).
_worker_authority: Authority | None = None


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the batch's process ends, however it ends (a worker holds the CA key).

    Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG). Everywhere:
    a watchdog thread exits once the parent is gone (the worker is re-parented, so its
    parent id changes), which also covers a parent that died before the prctl call.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            pr_set_pdeathsig = 1  # <linux/prctl.h>
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_worker(parent_pid: int, ca_der: bytes, key_der: bytes, chain_der: list[bytes]) -> None:
    global _worker_authority
    _die_with_parent(parent_pid)
    # Batch work: a little below the window (or the site) that started it, which then stays
    # responsive on a machine whose every core runs a worker. Costs nothing when nothing else runs.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
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

    The handout grows one fsynced line per bundle as the batch runs (written before the
    bundle is recorded), so even after ``kill -9`` every issued bundle's password is in it;
    worker processes die with this process.

    Raises:
        WorkspaceError: a worker process died (the bundles finished before it are kept and listed).
        RosterError: a row names someone who already has a valid certificate (nothing is created).
        ValueError: the lifetime is below 1 day or longer than the CA's, or ``workers`` is out of range.
    """
    check_batch_options(valid_days=valid_days, workers=workers)
    check_out_dir(workspace, out_dir)
    authority._check_within_ca(valid_days)
    if already := _already_issued_problems(rows, _valid_names(workspace)):
        raise RosterError(already)
    out_dir = Path(out_dir)
    if not out_dir.is_dir():  # only a folder made here becomes owner-only; an existing one keeps its mode
        make_private_dir(out_dir)
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
    handout = _Handout.create(out_dir)
    result.handout = handout.path
    # spawn, not fork: forking a process that runs threads (the GUI, the site) can deadlock.
    context = multiprocessing.get_context("spawn")
    pool_size = max(1, min(workers or os.cpu_count() or 1, len(rows) or 1))
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=pool_size,
        mp_context=context, initializer=_init_worker, initargs=(os.getpid(), ca_der, key_der, chain_der),
    )
    try:
        for future, line in _as_completed_in_window(pool, jobs, window=2 * pool_size, issued=result):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            row = by_line[line]
            try:
                cert_der, p12 = future.result()
            except BrokenProcessPool:
                raise WorkspaceError(
                    f"a worker process stopped unexpectedly; {len(result.issued)} of {len(rows)} bundles were "
                    "issued and are listed in the handout"
                ) from None
            cert = x509.load_der_x509_certificate(cert_der)
            bundle_path = out_dir / f"{row.stem}.p12"
            try:
                # Under the naming lock: an issue-client or another batch for the same student
                # meanwhile is found here, not after both have written a valid certificate.
                with workspace.name_claim(row.name):
                    # The password is on disk before the bundle is in the registry, so even a kill -9
                    # between the two never leaves an issued bundle whose password is lost.
                    handout.append(row, bundle_path, passwords[row.line])
                    bundle = workspace.store_client_files(cert, p12, name=row.name, bundle_path=bundle_path,
                                                          cert_path=out_dir / f"{row.stem}.crt")
            except WorkspaceError as exc:
                result.skipped.append((row, f"line {row.line}: {exc}"))
                continue
            result.issued.append((row, bundle.bundle_path, passwords[row.line]))
            if progress is not None:
                progress(len(result.issued), len(rows), row.name)
            if cancel is not None and cancel.is_set():
                result.cancelled = len(result.issued) < len(rows)
                break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        handout.finish(result.issued)
    return result


def _as_completed_in_window(pool: concurrent.futures.Executor, jobs: dict[int, _Job], *, window: int,
                            issued: RosterResult) -> Iterator[tuple[concurrent.futures.Future[tuple[bytes, bytes]],
                                                                    int]]:
    """Run ``jobs`` keeping at most ``window`` submitted at a time; yield (future, line) as each finishes.

    Submitting all of a 200-student batch at once made four threads (the batch's, the pool's manager
    and feeder, the GUI's) fight for the GIL at the start, and the window missed a tenth of a second
    of events; a window of two jobs per worker keeps every worker busy without that burst. A
    cancelled batch also has fewer queued jobs to drop.
    """
    waiting = iter(jobs.items())
    running: dict[concurrent.futures.Future[tuple[bytes, bytes]], int] = {}

    def top_up() -> None:
        while len(running) < window:
            item = next(waiting, None)
            if item is None:
                return
            line, job = item
            running[pool.submit(_make_bundle, job)] = line

    try:
        top_up()
        while running:
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                line = running.pop(future)
                top_up()
                yield future, line
    except BrokenProcessPool:  # submit() after a worker died
        raise WorkspaceError(
            f"a worker process stopped unexpectedly; {len(issued.issued)} of {issued.total} bundles were "
            "issued and are listed in the handout"
        ) from None


def _handout_row(row: RosterRow, bundle: Path, password: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerow(
        [spreadsheet_safe(row.name), spreadsheet_safe(row.email or ""), bundle.name, spreadsheet_safe(password)])
    return buffer.getvalue().encode("utf-8")


_HANDOUT_HEADER = "\ufeffname,email,file,password\r\n".encode()


@dataclass
class _Handout:
    """The handout, written as the batch goes: one fsynced row per bundle, before the bundle is recorded.

    Created owner-only with O_EXCL (it holds every password; an earlier batch's handout
    is never overwritten, the next free ``handout-N.csv`` is taken). When the batch ends
    it is rewritten atomically in roster order, listing exactly the bundles issued.
    """

    path: Path
    fd: int

    @classmethod
    def create(cls, out_dir: Path) -> _Handout:
        n = 1
        while True:
            path = out_dir / (HANDOUT_NAME if n == 1 else f"handout-{n}.csv")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), PRIVATE)
            except FileExistsError:
                n += 1
                continue
            handout = cls(path, fd)
            handout._write(_HANDOUT_HEADER)
            return handout

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        os.fsync(self.fd)

    def append(self, row: RosterRow, bundle: Path, password: str) -> None:
        self._write(_handout_row(row, bundle, password))

    def finish(self, issued: Sequence[tuple[RosterRow, Path, str]]) -> None:
        os.close(self.fd)
        rows = b"".join(_handout_row(r, b, p) for r, b, p in sorted(issued, key=lambda item: item[0].line))
        atomic_write(self.path, _HANDOUT_HEADER + rows, mode=PRIVATE)


def read_roster_file(path: Path) -> bytes:
    """Raises: WorkspaceError when the roster cannot be read."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_ROSTER_BYTES + 1)
    except OSError as exc:
        raise WorkspaceError(f"cannot read the roster {path}: {exc.strerror}") from None
    return data
