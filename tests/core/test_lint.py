"""Every profile and key type, judged by outside tools: pkilint, openssl -x509_strict, Python's strict ssl."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.authority import Authority, create_root_ca
from core.keys import KeyType
from core.profiles import SERVER_APPLE_LIMIT_DAYS, server_lifetime_warning
from core.registry import Registry
from core.revocation import build_crl
from tests.conftest import need

PASSWORD = b"key-file-password"


@dataclass
class Set:
    folder: Path
    ca: Path
    server: Path
    server_key: Path
    client: Path
    client_key: Path
    crl: Path


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key(issued_key: object) -> bytes:
    return issued_key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD))


@pytest.fixture(scope="module", params=list(KeyType), ids=lambda k: k.value)
def certs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Set:
    key_type: KeyType = request.param
    folder = tmp_path_factory.mktemp(key_type.value)
    ca: Authority = create_root_ca(common_name=f"Lint CA {key_type.value}", organization="School",
                                   key_type=key_type)
    # pkilint follows RFC 1034 preferred syntax: single-label "localhost" is an error to it,
    # so the linted server carries a real-looking name (the demo's localhost is covered elsewhere).
    server = ca.issue_server(hosts=["lab.school.example", "127.0.0.1", "::1"], key_type=key_type)
    client = ca.issue_client(name="Ada Lovelace", email="ada@school.example", key_type=key_type)
    registry = Registry(folder / "registry.sqlite3")
    revoked = ca.issue_client(name="Revoked", key_type=KeyType.EC_P256).certificate
    registry.add(revoked, kind="client")
    registry.revoke(format(revoked.serial_number, "X"), reason="keyCompromise")
    s = Set(folder, folder / "ca.crt", folder / "server.crt", folder / "server.key", folder / "client.crt",
            folder / "client.key", folder / "crl.pem")
    s.ca.write_bytes(_pem(ca.certificate))
    s.server.write_bytes(_pem(server.certificate))
    s.server_key.write_bytes(_key(server.key))
    s.client.write_bytes(_pem(client.certificate))
    s.client_key.write_bytes(_key(client.key))
    s.crl.write_bytes(build_crl(ca, registry).public_bytes(serialization.Encoding.PEM))
    return s


def _lint_tool(name: str) -> str:
    venv_bin = Path(__file__).parents[2] / ".venv" / "bin" / name
    return str(venv_bin) if venv_bin.exists() else need(name)


@pytest.mark.parametrize("which", ["ca", "server", "client"])
def test_pkilint_finds_no_error_or_warning(certs: Set, which: str) -> None:
    path = getattr(certs, which)
    out = subprocess.run([_lint_tool("lint_pkix_cert"), "lint", "-s", "WARNING", str(path)],
                         capture_output=True, text=True, check=False, timeout=120)
    assert out.stdout.strip() == "", out.stdout
    assert out.returncode == 0, out.stderr


def test_pkilint_crl(certs: Set) -> None:
    out = subprocess.run([_lint_tool("lint_crl"), "lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", str(certs.crl)],
                         capture_output=True, text=True, check=False, timeout=120)
    assert out.stdout.strip() == "", out.stdout
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("purpose", "which"), [("sslserver", "server"), ("sslclient", "client")])
def test_openssl_x509_strict_verify(certs: Set, purpose: str, which: str) -> None:
    out = subprocess.run([need("openssl"), "verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(certs.ca),
                          "-crl_check", "-CRLfile", str(certs.crl), str(getattr(certs, which))],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_python_strict_mutual_tls_handshake(certs: Set) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certs.server, certs.server_key, password=PASSWORD)
    server_ctx.load_verify_locations(certs.ca)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    client_ctx = ssl.create_default_context(cafile=str(certs.ca))
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    client_ctx.load_cert_chain(certs.client, certs.client_key, password=PASSWORD)

    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, object] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = exc

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=30) as raw, \
                client_ctx.wrap_socket(raw, server_hostname="lab.school.example") as tls:
            assert tls.recv(2) == b"ok"
    finally:
        thread.join(timeout=30)
        listener.close()
    assert not thread.is_alive()
    assert "error" not in seen, seen
    subject = dict(x[0] for x in seen["peer"]["subject"])  # type: ignore[index]
    assert subject["commonName"] == "Ada Lovelace"


def test_server_profile_repeats_cn_in_san_and_warns_above_825_days() -> None:
    ca = create_root_ca(common_name="CA")
    cert = ca.issue_server(hosts=["10.0.0.5", "lab.school.example"]).certificate
    cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert cn == "10.0.0.5"
    assert [str(v) for v in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    assert san.get_values_for_type(x509.DNSName) == ["lab.school.example"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=397, minutes=5)
    assert server_lifetime_warning(397) is None
    assert server_lifetime_warning(SERVER_APPLE_LIMIT_DAYS) is None
    warning = server_lifetime_warning(SERVER_APPLE_LIMIT_DAYS + 1)
    assert warning is not None and "Safari" in warning


def test_a_thousand_serials_are_distinct_and_at_least_64_bits() -> None:
    ca = create_root_ca(common_name="Serial CA")
    serials = [ca.issue_client(name=f"s{i}").certificate.serial_number for i in range(1000)]
    assert len(set(serials)) == 1000
    assert all(64 <= s.bit_length() <= 159 for s in serials)

