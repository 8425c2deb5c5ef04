"""Exports: the CA certificate for browsers, any certificate or chain as PEM or DER, a student's bundle.

Browsers and operating systems disagree on what they import: Firefox and Linux take
PEM ``.crt``; Windows and Android prefer DER ``.cer``; a DER file holds exactly
one certificate, so a chain in binary form is a PKCS#7 ``.p7b``.
"""

from __future__ import annotations

import contextlib
import enum
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from core.storage import PRIVATE, PUBLIC, atomic_write


class ExportFormat(enum.Enum):
    PEM = "pem"  # text, one or more certificates: .crt / .pem
    DER = "der"  # binary, exactly one certificate: .cer / .der
    P7B = "p7b"  # binary PKCS#7 bag of certificates, for a chain on Windows: .p7b

    @classmethod
    def parse(cls, value: str) -> ExportFormat:
        """Raises: ValueError for an unknown format."""
        for member in cls:
            if member.value == value.strip().lower():
                return member
        raise ValueError(f"unknown format {value!r}; choose pem, der or p7b")

    @classmethod
    def for_path(cls, path: Path) -> ExportFormat:
        """The format a file name asks for: .cer/.der are DER, .p7b/.p7c PKCS#7, anything else PEM."""
        suffix = Path(path).suffix.lower()
        if suffix in (".cer", ".der"):
            return cls.DER
        if suffix in (".p7b", ".p7c"):
            return cls.P7B
        return cls.PEM


def encode_certificates(certs: Sequence[x509.Certificate], fmt: ExportFormat) -> bytes:
    """Serialize ``certs`` (leaf first) in ``fmt``.

    Raises:
        ValueError: nothing to export, or DER asked for more than one certificate.
    """
    if not certs:
        raise ValueError("there is no certificate to export")
    if fmt is ExportFormat.DER:
        if len(certs) > 1:
            raise ValueError("a DER file holds one certificate; export the chain as PEM (.crt) or PKCS#7 (.p7b)")
        return certs[0].public_bytes(serialization.Encoding.DER)
    if fmt is ExportFormat.P7B:
        return pkcs7.serialize_certificates(list(certs), serialization.Encoding.DER)
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


class ExportRefused(ValueError):
    """The export would write over something it must not; the message says what and how to proceed."""


def _names_a_file(path: Path) -> bool:
    return not path.is_dir()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_export_target(path: Path, *, overwrite: bool = False, protected: Sequence[Path] = ()) -> None:
    """Refuse a target that is protected, not a regular file, or (without ``overwrite``) already there.

    Args:
        overwrite: allow replacing an existing regular file (``--force``).
        protected: folders and files never written over, even with ``overwrite``
            (see :meth:`core.workspace.Workspace.protected_paths`); compared after
            resolving symbolic links, so a link into them is refused too.

    Raises:
        ExportRefused: see above.
    """
    path = Path(path).expanduser()
    # normpath: "server/../ca3" is ca3, not a file inside server/ (and "ca3/../ca" is ca/).
    for candidate in {Path(os.path.normpath(path.absolute())), path.resolve()}:
        for guarded in protected:
            for guard in {Path(os.path.normpath(Path(guarded).absolute())), Path(guarded).resolve()}:
                if candidate == guard and _names_a_file(guard):
                    raise ExportRefused(f"{path} is one of the workspace's own files (a key, a bundle, a "
                                        "certificate it issued, its registry or logins), which exports never "
                                        "write over; choose another file")
                if _inside(candidate, guard):
                    raise ExportRefused(f"{path} is inside the workspace's {guard.name}, which exports never "
                                        "write over; choose a file outside it")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    try:
        target = os.stat(path)  # a link's target: a link to a device is a device
    except OSError:
        target = info
    if not stat.S_ISREG(target.st_mode):
        kind = "folder" if stat.S_ISDIR(target.st_mode) else "device, pipe or socket"
        raise ExportRefused(f"{path} is a {kind}, not a regular file; give a file name")
    if not overwrite:
        raise ExportRefused(f"{path} already exists; nothing was written (add --force to replace it)")


def _write_new(path: Path, data: bytes, *, mode: int) -> None:
    """Write a file that must not exist yet: linked into place, so a file created meanwhile is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ExportRefused(f"{path} already exists; nothing was written (add --force to replace it)") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write(path: Path, data: bytes, *, overwrite: bool, mode: int = PUBLIC) -> None:
    if overwrite and path.exists():
        atomic_write(path, data, mode=mode)
    else:
        _write_new(path, data, mode=mode)


def export_bundle(source: Path, path: Path, *, overwrite: bool = False, protected: Sequence[Path] = ()) -> Path:
    """Copy a student's .p12 (to a USB stick, a shared folder): the same bytes, so the same password.

    The copy is owner-only like the original; the bundle is encrypted, but it is still the
    student's private key.

    Raises:
        ExportRefused: see :func:`check_export_target`.
        OSError: the bundle cannot be read.
    """
    path = Path(path).expanduser()
    data = Path(source).read_bytes()
    check_export_target(path, overwrite=overwrite, protected=protected)
    _write(path, data, overwrite=overwrite, mode=PRIVATE)
    return path


def export_certificates(certs: Sequence[x509.Certificate], path: Path, *, fmt: ExportFormat | None = None,
                        overwrite: bool = False, protected: Sequence[Path] = ()) -> Path:
    """Write ``certs`` to ``path`` (atomically, world-readable: certificates are public).

    Args:
        fmt: the format; default from the file name (see :meth:`ExportFormat.for_path`).
        overwrite, protected: see :func:`check_export_target`.

    Returns:
        The path written.

    Raises:
        ExportRefused: see :func:`check_export_target`.
        ValueError: see :func:`encode_certificates`.
    """
    path = Path(path).expanduser()
    data = encode_certificates(certs, fmt or ExportFormat.for_path(path))
    check_export_target(path, overwrite=overwrite, protected=protected)
    _write(path, data, overwrite=overwrite)
    return path


def export_ca_for_browsers(ca: x509.Certificate, folder: Path, *, stem: str = "ca", overwrite: bool = False,
                           protected: Sequence[Path] = ()) -> tuple[Path, Path]:
    """Write the CA certificate as ``stem.crt`` (PEM) and ``stem.cer`` (DER) into ``folder`` (created if missing).

    Both targets are checked before either is written. Raises: ExportRefused (see :func:`check_export_target`).
    """
    folder = Path(folder).expanduser()
    crt, cer = folder / f"{stem}.crt", folder / f"{stem}.cer"
    if folder.exists() and not folder.is_dir():
        raise ExportRefused(f"{folder} exists and is not a folder")
    for path in (crt, cer):
        check_export_target(path, overwrite=overwrite, protected=protected)
    _write(crt, encode_certificates([ca], ExportFormat.PEM), overwrite=overwrite)
    _write(cer, encode_certificates([ca], ExportFormat.DER), overwrite=overwrite)
    return crt, cer
