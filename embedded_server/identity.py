"""The verified client identity, and the table that carries it from the TLS front to the app.

The front opens one loopback connection to waitress per client connection. The
local port of that connection is unique while it is open, and waitress reports it
to the app as ``REMOTE_PORT``. The front registers the verified certificate under
that port before it forwards a single byte, and removes it before it closes the
connection (so the port cannot be reused while the entry exists). Nothing a
client sends can choose that port, so no header can claim an identity, and a
connection made straight to waitress's port finds no entry.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ClientIdentity:
    """Facts about a client certificate that the TLS front has verified."""

    subject: str
    issuer: str
    common_name: str
    emails: tuple[str, ...]  # rfc822Name entries of the subjectAltName
    serial: str
    fingerprint_sha256: str
    not_after: dt.datetime
    certificate_der: bytes
    protocol: str
    cipher: str
    client_address: str

    @property
    def certificate_pem(self) -> str:
        return ssl.DER_cert_to_PEM_cert(self.certificate_der)

    @classmethod
    def from_der(cls, der: bytes, *, protocol: str, cipher: str, client_address: str) -> ClientIdentity:
        cert = x509.load_der_x509_certificate(der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            emails = tuple(san.get_values_for_type(x509.RFC822Name))
        except x509.ExtensionNotFound:
            emails = ()
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            common_name=str(cns[0].value) if cns else "",
            emails=emails,
            serial=format(cert.serial_number, "X"),
            fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
            not_after=cert.not_valid_after_utc,
            certificate_der=der,
            protocol=protocol,
            cipher=cipher,
            client_address=client_address,
        )


@dataclass(frozen=True)
class NoCertificate:
    """A TLS connection that presented no client certificate (friendly mode only)."""

    protocol: str
    cipher: str
    client_address: str


Peer = ClientIdentity | NoCertificate


class IdentityTable:
    """Thread-safe map from the front's outgoing local port to the verified identity."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_port: dict[int, Peer] = {}

    def register(self, port: int, identity: Peer) -> None:
        with self._lock:
            self._by_port[port] = identity

    def unregister(self, port: int) -> None:
        with self._lock:
            self._by_port.pop(port, None)

    def lookup(self, port: int) -> Peer | None:
        with self._lock:
            return self._by_port.get(port)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_port)
