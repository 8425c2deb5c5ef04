"""Exports: the CA certificate for browsers, any certificate or chain as PEM or DER.

Browsers and operating systems disagree on what they import: Firefox and Linux take
PEM ``.crt``; Windows and Android prefer DER ``.cer``; a DER file holds exactly
one certificate, so a chain in binary form is a PKCS#7 ``.p7b``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from core.storage import PUBLIC, atomic_write


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


def export_certificates(certs: Sequence[x509.Certificate], path: Path, *, fmt: ExportFormat | None = None) -> Path:
    """Write ``certs`` to ``path`` (atomically, world-readable: certificates are public).

    Args:
        fmt: the format; default from the file name (see :meth:`ExportFormat.for_path`).

    Returns:
        The path written.

    Raises:
        ValueError: see :func:`encode_certificates`.
    """
    path = Path(path).expanduser()
    data = encode_certificates(certs, fmt or ExportFormat.for_path(path))
    atomic_write(path, data, mode=PUBLIC)
    return path


def export_ca_for_browsers(ca: x509.Certificate, folder: Path, *, stem: str = "ca") -> tuple[Path, Path]:
    """Write the CA certificate as ``stem.crt`` (PEM) and ``stem.cer`` (DER) into ``folder``."""
    folder = Path(folder).expanduser()
    return (
        export_certificates([ca], folder / f"{stem}.crt", fmt=ExportFormat.PEM),
        export_certificates([ca], folder / f"{stem}.cer", fmt=ExportFormat.DER),
    )
