"""Bundle doctor on real bundles: modern and compatible encryption, mismatched key, expired, server certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from core.bundles import read_p12
from core.doctor import Verdict, diagnose_bundle, read_p12_encryption
from core.keys import KeyType, generate_private_key
from core.profiles import Kind
from tests.conftest import BUNDLE_PASSWORD, Classroom, need
from tests.server.test_refusals import make_cert_files


def verdicts(report: object) -> dict[str, Verdict]:
    return {c.name: c.verdict for c in report.checks}  # type: ignore[attr-defined]


def test_healthy_modern_bundle(classroom: Classroom) -> None:
    report = diagnose_bundle(classroom.bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=classroom.ca_cert)
    assert report.healthy, report.to_text()
    enc = report.encryption
    assert enc["profile"] == "modern"
    assert enc["private key"] == "PBES2 (PBKDF2-HMAC-SHA256, 50000 iterations, AES-256-CBC)"
    assert enc["integrity MAC"].startswith("SHA-256")
    assert "Windows 10" in enc["should import on"]
    assert report.contents["subject"] == "CN=Ada Lovelace,O=Tests"
    assert report.contents["extended key usage"] == "clientAuth"
    assert report.contents["private key"] == "EC secp256r1"
    assert report.ca_certificates[0]["subject"] == "CN=Test Classroom CA,O=Tests"
    assert verdicts(report) == {"password": Verdict.OK, "key matches certificate": Verdict.OK,
                                "validity": Verdict.OK, "client authentication": Verdict.OK, "chain": Verdict.OK}
    assert report.to_text().endswith("Result: healthy")


def test_compatible_bundle_made_by_openssl_legacy(classroom: Classroom, tmp_path: Path) -> None:
    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    pem = tmp_path / "in.pem"
    pem.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM) + bundle.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(BUNDLE_PASSWORD.encode())))
    pw_in, pw_out = tmp_path / "pw-in", tmp_path / "pw-out"  # one file for both would be read line by line
    pw_in.write_text(BUNDLE_PASSWORD)
    pw_out.write_text(BUNDLE_PASSWORD)
    out = tmp_path / "legacy.p12"
    subprocess.run([need("openssl"), "pkcs12", "-export", "-legacy", "-in", str(pem), "-passin", f"file:{pw_in}",
                    "-passout", f"file:{pw_out}", "-out", str(out)], check=True, capture_output=True, timeout=60)
    report = diagnose_bundle(out, BUNDLE_PASSWORD, ca_cert=classroom.ca_cert)
    assert report.healthy, report.to_text()
    assert report.encryption["profile"] == "compatible"
    assert report.encryption["private key"] == "pbeWithSHAAnd3-KeyTripleDES-CBC"
    assert report.encryption["certificates"] == "pbeWithSHAAnd40BitRC2-CBC"
    assert report.encryption["integrity MAC"].startswith("SHA-1")
    assert "older macOS" in report.encryption["should import on"]
    assert verdicts(report)["encryption"] is Verdict.WARNING  # 40-bit RC2 on the certificates


def test_encryption_read_without_the_password(classroom: Classroom, tmp_path: Path) -> None:
    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    enc = serialization.PrivateFormat.PKCS12.encryption_builder().key_cert_algorithm(
        pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(b"secret-pass")  # noqa: S303 the legacy profile under test
    path = tmp_path / "tdes.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"x", bundle.key, bundle.certificate, None, enc))
    info = read_p12_encryption(path.read_bytes())
    assert (info.key, info.certificates, info.mac, info.profile) == (
        "pbeWithSHAAnd3-KeyTripleDES-CBC", "pbeWithSHAAnd3-KeyTripleDES-CBC", "SHA-1", "compatible")
    report = diagnose_bundle(path, "wrong-password")
    assert not report.healthy
    assert report.encryption["profile"] == "compatible"
    assert report.problems[0].name == "password"


def test_mismatched_key_and_certificate(classroom: Classroom, tmp_path: Path) -> None:
    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    stranger = generate_private_key(KeyType.EC_P256)
    enc = serialization.PrivateFormat.PKCS12.encryption_builder().build(BUNDLE_PASSWORD.encode())
    path = tmp_path / "mismatch.p12"
    # cryptography and OpenSSL refuse to pair them, so the certificate travels beside the key.
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"x", stranger, None, [bundle.certificate], enc))
    report = diagnose_bundle(path, BUNDLE_PASSWORD, ca_cert=classroom.ca_cert)
    assert [c.name for c in report.problems] == ["key matches certificate"]
    assert "belongs to none of the certificates" in report.problems[0].detail
    assert report.problems[0].fix
    assert report.ca_certificates[0]["subject"] == "CN=Ada Lovelace,O=Tests"


def test_expired_certificate(classroom: Classroom, tmp_path: Path) -> None:
    _, _, p12 = make_cert_files(classroom, tmp_path, kind=Kind.CLIENT, issued_days_ago=30, valid_days=10)
    report = diagnose_bundle(p12, BUNDLE_PASSWORD, ca_cert=classroom.ca_cert)
    assert [c.name for c in report.problems] == ["validity"]
    assert "expired on" in report.problems[0].detail


def test_server_certificate_in_a_bundle(classroom: Classroom, tmp_path: Path) -> None:
    _, _, p12 = make_cert_files(classroom, tmp_path, kind=Kind.SERVER, issued_days_ago=0, valid_days=10)
    report = diagnose_bundle(p12, BUNDLE_PASSWORD, ca_cert=classroom.ca_cert)
    assert [c.name for c in report.problems] == ["client authentication"]
    assert "serverAuth" in report.problems[0].detail


def test_other_ca_and_not_a_bundle(classroom: Classroom, other_classroom: Classroom, tmp_path: Path) -> None:
    report = diagnose_bundle(other_classroom.bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=classroom.ca_cert)
    assert [c.name for c in report.problems] == ["chain"]
    junk = tmp_path / "notes.p12"
    junk.write_text("just some notes")
    bad = diagnose_bundle(junk, BUNDLE_PASSWORD)
    assert bad.problems[0].name == "file" and "not a .p12" in bad.problems[0].detail


def test_doctor_command_exit_codes_and_json(classroom: Classroom, tmp_path: Path) -> None:
    import json
    import os
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MTLSLAB_BUNDLE_PASSWORD": BUNDLE_PASSWORD}

    def doctor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(root / "main.py"), "doctor", *args], capture_output=True,
                              text=True, env=env, cwd=root, timeout=120, check=False)

    healthy = doctor(str(classroom.bundle.bundle_path), "--ca", str(classroom.ca_cert))
    assert healthy.returncode == 0, healthy.stderr
    assert "Result: healthy" in healthy.stdout and "profile: modern" in healthy.stdout
    _, _, expired = make_cert_files(classroom, tmp_path, kind=Kind.CLIENT, issued_days_ago=30, valid_days=10)
    sick = doctor(str(expired), "--ca", str(classroom.ca_cert), "--json")
    assert sick.returncode == 1
    data = json.loads(sick.stdout)
    assert data["healthy"] is False
    assert [c["name"] for c in data["checks"] if c["verdict"] == "problem"] == ["validity"]
    pw = tmp_path / "pw"
    pw.write_text("wrong-password\n")
    wrong = doctor(str(classroom.bundle.bundle_path), "--password-file", str(pw))
    assert wrong.returncode == 1 and "the password does not open the bundle" in wrong.stdout
