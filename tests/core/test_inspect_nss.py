"""Certificate details in plain words, and importing into a real NSS database."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.inspect import describe_certificate
from core.nss import NssError, import_into_nss
from tests.conftest import BUNDLE_PASSWORD, Classroom, need


def test_details_decode_every_extension_with_criticality(classroom: Classroom) -> None:
    rows = dict(describe_certificate(classroom.workspace.server_certificate()))
    assert rows["subjectAltName"] == "DNS:localhost, IP:127.0.0.1, IP:::1"
    assert rows["extendedKeyUsage"] == "TLS server (serverAuth)"
    assert rows["basicConstraints (critical)"] == "not a certificate authority (end entity)"
    assert rows["keyUsage (critical)"] == "digital signature"
    assert rows["Public key"] == "ECDSA secp256r1 (256 bits)"
    ca = dict(describe_certificate(classroom.authority.certificate))
    assert ca["basicConstraints (critical)"] == "certificate authority (path length 0)"
    assert ca["keyUsage (critical)"] == "key cert sign, crl sign"


def test_import_into_fresh_nss_database(classroom: Classroom, tmp_path: Path) -> None:
    db = tmp_path / "nssdb"
    import_into_nss(db, ca_cert=classroom.ca_cert, ca_name="Classroom CA", bundle=classroom.bundle.bundle_path,
                    bundle_password=BUNDLE_PASSWORD, create=True)
    listing = subprocess.run([need("certutil"), "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True)
    trust = [line.split()[-1] for line in listing.stdout.splitlines() if line.startswith("Classroom CA")]
    assert trust == ["C,,"]
    assert "Ada Lovelace" in listing.stdout


def test_wrong_password_is_named_and_missing_db_refused(classroom: Classroom, tmp_path: Path) -> None:
    with pytest.raises(NssError, match="no certificate database"):
        import_into_nss(tmp_path / "none", ca_cert=classroom.ca_cert, ca_name="CA",
                        bundle=classroom.bundle.bundle_path, bundle_password=BUNDLE_PASSWORD)
    with pytest.raises(NssError, match="password is wrong"):
        import_into_nss(tmp_path / "db", ca_cert=classroom.ca_cert, ca_name="CA",
                        bundle=classroom.bundle.bundle_path, bundle_password="wrong-password", create=True)
