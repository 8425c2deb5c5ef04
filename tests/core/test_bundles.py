"""PKCS#12 bundles: round trip, wrong password, algorithms, and real importers (NSS)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from core.bundles import (
    KDF_ROUNDS,
    BundleProfile,
    NotABundleError,
    WrongPasswordError,
    check_bundle_password,
    read_p12,
    write_p12,
)
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


@pytest.mark.parametrize(("password", "message"), [
    ("", "needs a password"), ("short", "at least 8"), ("x" * 257, "at most 256"),
])
def test_empty_short_or_overlong_password_refused(password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_bundle_password(password)
    check_bundle_password("x" * 256)  # the longest accepted still opens in openssl (it reads 1,023 bytes)


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


# -- both profiles, checked by every real importer ----------------------------------
@pytest.fixture(scope="module", params=[BundleProfile.MODERN, BundleProfile.COMPATIBLE], ids=lambda p: p.value)
def profile_bundle(request: pytest.FixtureRequest, classroom: Classroom,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[BundleProfile, Path, Path]:
    profile: BundleProfile = request.param
    folder = tmp_path_factory.mktemp(f"p12-{profile.value}")
    issued = classroom.authority.issue_client(name=f"Grace {profile.value}")
    bundle = folder / "grace.p12"
    write_p12(bundle, key=issued.key, certificate=issued.certificate,
              ca_certificates=[classroom.authority.certificate], password=BUNDLE_PASSWORD,
              friendly_name=f"Grace {profile.value}", profile=profile)
    pw = folder / "pw"
    pw.write_text(BUNDLE_PASSWORD)
    return profile, bundle, pw


def test_profile_algorithms_shown_by_openssl(profile_bundle: tuple[BundleProfile, Path, Path]) -> None:
    profile, bundle, pw = profile_bundle
    cmd = [need("openssl"), "pkcs12", "-info", "-in", str(bundle), "-noout", "-passin", f"file:{pw}"]
    if profile is BundleProfile.COMPATIBLE:
        # 3DES is in OpenSSL 3's default provider (docs/ca.md says so): no -legacy needed,
        # though the legacy provider, as older scripts pass it, reads it the same.
        legacy = subprocess.run([*cmd, "-legacy"], capture_output=True, text=True, check=False)
        assert legacy.returncode == 0, legacy.stdout + legacy.stderr
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    if profile is BundleProfile.MODERN:
        assert "MAC: sha256" in text
        assert "PBES2, PBKDF2, AES-256-CBC" in text
        assert "3DES" not in text
        # A guesser checks each guess against the cheapest derivation: the MAC must cost as
        # much as the two encrypted bags (cryptography alone writes the MAC with 2,048).
        assert re.findall(r"Iteration (\d+)", text) == [str(KDF_ROUNDS)] * 3, text
    else:
        assert "MAC: sha1" in text
        assert "pbeWithSHA1And3-KeyTripleDES-CBC" in text
        assert "AES" not in text


def test_profile_round_trip(profile_bundle: tuple[BundleProfile, Path, Path]) -> None:
    profile, bundle, _pw = profile_bundle
    opened = read_p12(bundle, BUNDLE_PASSWORD)
    assert opened.friendly_name == f"Grace {profile.value}"
    assert len(opened.ca_certificates) == 1
    with pytest.raises(WrongPasswordError):
        read_p12(bundle, "wrong-password-1")


def test_profile_imports_into_fresh_nss_database(profile_bundle: tuple[BundleProfile, Path, Path],
                                                 tmp_path: Path) -> None:
    profile, bundle, pw = profile_bundle
    db = tmp_path / "nssdb"
    db.mkdir()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    subprocess.run([need("certutil"), "-N", "-d", f"sql:{db}", "-f", str(empty)], check=True, capture_output=True)
    out = subprocess.run([need("pk12util"), "-i", str(bundle), "-d", f"sql:{db}", "-w", str(pw), "-k", str(empty)],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    listed = subprocess.run([need("certutil"), "-L", "-d", f"sql:{db}"], capture_output=True, text=True, check=True)
    assert f"Grace {profile.value}" in listed.stdout


def test_profile_lists_with_keytool(profile_bundle: tuple[BundleProfile, Path, Path]) -> None:
    profile, bundle, pw = profile_bundle
    out = subprocess.run([need("keytool"), "-list", "-storetype", "pkcs12", "-keystore", str(bundle),
                          "-storepass:file", str(pw)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PrivateKeyEntry" in out.stdout
    assert f"grace {profile.value}" in out.stdout.lower()


def test_unknown_profile_is_named() -> None:
    with pytest.raises(ValueError, match="modern or compatible"):
        BundleProfile.parse("fast")


@pytest.mark.parametrize("password", ["pässwörd-é-ü", "密码很长的密码密码", "emoji-\U0001f600-pass"],
                         ids=["latin", "cjk", "astral"])
def test_non_ascii_password_opens_in_openssl_and_nss(classroom: Classroom, tmp_path: Path, password: str) -> None:
    """The re-keyed MAC is derived as every reader derives it, for any password a student may be given."""
    issued = classroom.authority.issue_client(name="Zoë Unicode")
    bundle = tmp_path / "zoe.p12"
    write_p12(bundle, key=issued.key, certificate=issued.certificate,
              ca_certificates=[classroom.authority.certificate], password=password, friendly_name="Zoë Unicode")
    pw = tmp_path / "pw"
    pw.write_text(password, encoding="utf-8")
    out = subprocess.run([need("openssl"), "pkcs12", "-info", "-in", str(bundle), "-noout", "-passin", f"file:{pw}"],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"MAC: sha256, Iteration {KDF_ROUNDS}" in out.stdout + out.stderr
    assert read_p12(bundle, password).certificate == issued.certificate
    with pytest.raises(WrongPasswordError):
        read_p12(bundle, password[:-1])
    db = tmp_path / "nssdb"
    db.mkdir()
    subprocess.run([need("certutil"), "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    imp = subprocess.run([need("pk12util"), "-i", str(bundle), "-d", f"sql:{db}", "-w", str(pw)],
                         capture_output=True, text=True, check=False)
    assert imp.returncode == 0, imp.stdout + imp.stderr
