"""Bundle doctor on real bundles: modern and compatible encryption, mismatched key, expired, server certificate."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.bundles import KDF_ROUNDS, read_p12
from core.doctor import DAMAGED, Verdict, diagnose_bundle, read_p12_encryption
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
    assert enc["private key"] == f"PBES2 (PBKDF2-HMAC-SHA256, {KDF_ROUNDS} iterations, AES-256-CBC)"
    assert enc["integrity MAC"] == f"SHA-256 ({KDF_ROUNDS} iterations)"
    assert "Windows 10" in enc["should import on"]
    assert report.contents["subject"] == "CN=Ada Lovelace,O=Tests"
    assert report.contents["extended key usage"] == "clientAuth"
    assert report.contents["private key"] == "EC secp256r1"
    assert report.ca_certificates[0]["subject"] == "CN=Test Classroom CA,O=Tests"
    assert verdicts(report) == {"password": Verdict.OK, "key matches certificate": Verdict.OK,
                                "validity": Verdict.OK, "client authentication": Verdict.OK, "chain": Verdict.OK,
                                "revocation": Verdict.OK}  # the workspace's ca/crl.pem, found beside ca.crt
    assert report.to_text().endswith("Result: healthy")


def test_a_revoked_bundle_is_named_from_the_crl_beside_the_ca(tmp_path: Path) -> None:
    from tests.conftest import make_classroom

    room = make_classroom(tmp_path / "ws")
    room.workspace.revoke(room.authority, "Ada Lovelace", reason="keyCompromise")
    report = diagnose_bundle(room.bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=room.ca_cert)
    assert not report.healthy
    check = next(c for c in report.checks if c.name == "revocation")
    assert check.verdict is Verdict.PROBLEM
    assert "revoked on" in check.detail and "(keyCompromise)" in check.detail
    # A CRL elsewhere (as a student would download it) is given explicitly; a wrong file is a warning, not a crash.
    copy = tmp_path / "downloaded.crl"
    copy.write_bytes(room.workspace.crl_der_path.read_bytes())
    elsewhere = tmp_path / "ca.crt"
    elsewhere.write_bytes(room.ca_cert.read_bytes())
    assert verdicts(diagnose_bundle(room.bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=elsewhere,
                                    crl=copy))["revocation"] is Verdict.PROBLEM
    assert verdicts(diagnose_bundle(room.bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=elsewhere,
                                    crl=elsewhere))["revocation"] is Verdict.WARNING


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


# -- hostile input: names that try to take over the terminal, files that are not bundles -----------------
HOSTILE_NAME = "\x1b[2J\nResult: all steps passed"


def hostile_certificates(common_name: str, *, dns_names: list[str]) -> tuple[
        x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A CA and a leaf (serverAuth + clientAuth) whose CN and SAN names hold whatever is asked.

    Built with cryptography directly: the profile checks of core.profiles refuse such names, as they should,
    but a hostile server or bundle is not made with mTLS Lab.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hostile CA \u202e\x1b[31m")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ca, leaf, key


def assert_one_value_per_line(text: str) -> None:
    """No raw control or bidi character anywhere, and the only "Result:" line is the report's own last line."""
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text), repr(text)
    lines = text.split("\n")
    assert [line for line in lines if line.lstrip().startswith("Result:")] == [lines[-1]], text


def test_hostile_subject_and_friendly_name_are_shown_escaped(tmp_path: Path) -> None:
    ca, leaf, key = hostile_certificates(HOSTILE_NAME + "\u202egnp.exe", dns_names=["student.example"])
    enc = serialization.PrivateFormat.PKCS12.encryption_builder().build(BUNDLE_PASSWORD.encode())
    path = tmp_path / "hostile.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        "\x1b]0;pwned\x07\r\nResult: healthy\u2066".encode(), key, leaf, [ca], enc))
    report = diagnose_bundle(path, BUNDLE_PASSWORD)
    text = report.to_text()
    assert_one_value_per_line(text)
    assert "subject: CN=\\x1b[2J\\x0aResult: all steps passed\\u202egnp.exe" in text
    assert "friendly name: \\x1b]0;pwned\\x07\\x0d\\x0aResult: healthy\\u2066" in text
    assert "CA certificate 1: CN=Hostile CA \\u202e\\x1b[31m (valid until" in text
    # JSON keeps the real value (json escapes it), so a script sees exactly what the file holds.
    data = json.loads(report.to_json())
    assert data["contents"]["friendly name"] == "\x1b]0;pwned\x07\r\nResult: healthy\u2066"
    assert data["contents"]["subject"] == "CN=" + HOSTILE_NAME + "\u202egnp.exe"
    assert "\x1b" not in report.to_json()


def doctor_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MTLSLAB_BUNDLE_PASSWORD": BUNDLE_PASSWORD}
    return subprocess.run([sys.executable, str(root / "main.py"), "doctor", *args], capture_output=True, text=True,
                          env=env, cwd=root, timeout=timeout, check=False)


def test_doctor_refuses_a_fifo_instead_of_waiting_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "bundle.p12"
    os.mkfifo(fifo)
    # A subprocess with a deadline: the old doctor blocked in open() until a writer came, i.e. forever.
    result = doctor_cli(str(fifo))
    assert result.returncode == 1, result.stderr
    assert f"[FAIL] file: {fifo} is not a regular file" in result.stdout
    report = diagnose_bundle(tmp_path, BUNDLE_PASSWORD)  # a folder is not a bundle either
    assert report.problems[0].detail == f"{tmp_path} is not a regular file"


def test_random_and_damaged_data_is_named_plainly(classroom: Classroom, tmp_path: Path) -> None:
    rng = random.Random(1234)  # noqa: S311 fixed seed: the same damaged inputs every run
    real = classroom.bundle.bundle_path.read_bytes()
    samples = [rng.randbytes(rng.randrange(1, 300)) for _ in range(150)]
    samples += [b"\x30" + rng.randbytes(rng.randrange(1, 300)) for _ in range(150)]  # starts like a SEQUENCE
    samples += [real[:n] for n in range(0, len(real), 37)]  # truncated real bundles
    path = tmp_path / "damaged.p12"
    for sample in samples:
        path.write_bytes(sample)
        report = diagnose_bundle(path, BUNDLE_PASSWORD)
        assert [(c.name, c.detail) for c in report.problems] == [("file", DAMAGED)], sample
        assert "index" not in report.to_text()
    # Bytes flipped inside a real bundle: whatever breaks, the doctor answers with a report, never a traceback.
    for _ in range(60):
        flipped = bytearray(real)
        flipped[rng.randrange(len(real))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        report = diagnose_bundle(path, BUNDLE_PASSWORD)
        assert "index out of range" not in report.to_text()
    result = doctor_cli(str(path))
    assert "Traceback" not in result.stderr
