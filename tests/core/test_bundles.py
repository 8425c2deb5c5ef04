"""PKCS#12 bundles: round trip, wrong password, algorithms, and real importers (NSS)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from core.bundles import NotABundleError, WrongPasswordError, check_bundle_password, read_p12
from tests.conftest import BUNDLE_PASSWORD, Classroom, need


def test_round_trip_holds_key_certificate_and_ca(classroom: Classroom) -> None:
    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    assert bundle.certificate == classroom.bundle.certificate
    assert bundle.ca_certificates == [classroom.authority.certificate]
    assert bundle.friendly_name == "Ada Lovelace"
    pub = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert bundle.key.public_key().public_bytes(*pub) == bundle.certificate.public_key().public_bytes(*pub)


def test_wrong_password_is_named(classroom: Classroom) -> None:
    with pytest.raises(WrongPasswordError, match="password is wrong"):
        read_p12(classroom.bundle.bundle_path, "not-the-password")


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n", b"\x30\x82\x01\x00garbage"])
def test_not_a_bundle_is_named(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "thing.p12"
    f.write_bytes(content)
    with pytest.raises(NotABundleError):
        read_p12(f, BUNDLE_PASSWORD)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotABundleError, match="does not exist"):
        read_p12(tmp_path / "nope.p12", BUNDLE_PASSWORD)


@pytest.mark.parametrize("password", ["", "short"])
def test_empty_or_short_password_refused(password: str) -> None:
    with pytest.raises(ValueError):
        check_bundle_password(password)


def test_modern_algorithms(classroom: Classroom, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(BUNDLE_PASSWORD)
    out = subprocess.run(
        [need("openssl"), "pkcs12", "-info", "-in", str(classroom.bundle.bundle_path), "-noout",
         "-passin", f"file:{pw}"],
        capture_output=True, text=True, check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "MAC: sha256" in text
    assert "PBES2, PBKDF2, AES-256-CBC" in text


def test_imports_into_fresh_nss_database(classroom: Classroom, tmp_path: Path) -> None:
    db = tmp_path / "nssdb"
    db.mkdir()
    subprocess.run([need("certutil"), "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    pw = tmp_path / "pw"
    pw.write_text(BUNDLE_PASSWORD)
    empty = tmp_path / "empty"
    empty.write_text("")
    imp = subprocess.run(
        [need("pk12util"), "-i", str(classroom.bundle.bundle_path), "-d", f"sql:{db}", "-w", str(pw), "-k", str(empty)],
        capture_output=True, text=True, check=False,
    )
    assert imp.returncode == 0, imp.stdout + imp.stderr
    listing = subprocess.run([need("certutil"), "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True)
    assert "Ada Lovelace" in listing.stdout
    keys = subprocess.run([need("certutil"), "-K", "-d", f"sql:{db}", "-f", str(empty)],
                          capture_output=True, text=True, check=False)
    assert "Ada Lovelace" in keys.stdout


def test_nss_refuses_wrong_password(classroom: Classroom, tmp_path: Path) -> None:
    db = tmp_path / "nssdb"
    db.mkdir()
    subprocess.run([need("certutil"), "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    pw = tmp_path / "pw"
    pw.write_text("wrong-password")
    imp = subprocess.run([need("pk12util"), "-i", str(classroom.bundle.bundle_path), "-d", f"sql:{db}", "-w", str(pw)],
                         capture_output=True, text=True, check=False)
    assert imp.returncode != 0
