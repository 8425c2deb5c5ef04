"""Client certificates the site must refuse in the handshake, each with its own reason and alert."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from core.connection_test import ConnectionTestInput, Status, run_connection_test
from core.keys import KeyType, generate_private_key
from core.profiles import CertificateRequest, Kind, build_certificate, make_name
from core.storage import atomic_write
from embedded_server.site import DemoSite
from tests.conftest import BUNDLE_PASSWORD, Classroom, need


def make_cert_files(classroom: Classroom, tmp_path: Path, *, kind: Kind, issued_days_ago: int,
                    valid_days: int) -> tuple[Path, Path, Path]:
    """A certificate from the classroom CA, written as PEM cert + encrypted key + .p12."""
    from core.bundles import encode_p12

    key = generate_private_key(KeyType.EC_P256)
    request = CertificateRequest(kind=kind, subject=make_name("Mallory", "Tests"), public_key=key.public_key(),
                                 valid_days=valid_days)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=issued_days_ago)
    cert = build_certificate(request, issuer_cert=classroom.authority.certificate,
                             issuer_key=classroom.authority.key, now=now)
    cert_path, key_path, p12 = tmp_path / "m.crt", tmp_path / "m.key", tmp_path / "m.p12"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(BUNDLE_PASSWORD.encode())))
    atomic_write(p12, encode_p12(key=key, certificate=cert, ca_certificates=[classroom.authority.certificate],
                                 password=BUNDLE_PASSWORD, friendly_name="Mallory"))
    return cert_path, key_path, p12


CASES = [
    # (kind, issued days ago, valid days, site's reason, openssl alert, Test Connection cause)
    pytest.param(Kind.CLIENT, 30, 10, "client certificate expired", "alert certificate expired", "expired",
                 id="expired"),
    pytest.param(Kind.SERVER, 0, 10, "certificate not made for client authentication", "alert unsupported certificate",
                 "not a client certificate", id="server-cert-as-client"),
]


@pytest.mark.parametrize(("kind", "ago", "days", "reason", "alert", "cause"), CASES)
@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_refused_with_reason_and_alert(site: DemoSite, classroom: Classroom, tmp_path: Path, kind: Kind, ago: int,
                                       days: int, reason: str, alert: str, cause: str, version: str) -> None:
    cert, key, p12 = make_cert_files(classroom, tmp_path, kind=kind, issued_days_ago=ago, valid_days=days)
    pw = tmp_path / "pw"
    pw.write_text(BUNDLE_PASSWORD)
    out = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{site.address[1]}", "-CAfile", str(classroom.ca_cert),
         "-cert", str(cert), "-key", str(key), "-pass", f"file:{pw}", "-ign_eof", version],
        input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=30, check=False)
    text = (out.stdout + out.stderr).decode()
    assert alert in text
    assert "HTTP/1.0 200" not in text
    assert any(e.kind == "connection-refused" and e.message == reason for e in site.events.recent())

    report = run_connection_test(ConnectionTestInput(url=site.url, ca_cert=classroom.ca_cert, bundle=p12,
                                                     bundle_password=BUNDLE_PASSWORD))
    failed = report.failed_step
    assert failed is not None and failed.status is Status.FAILED
    assert cause in (failed.cause or "")
