"""Certificate profiles: every extension's value and criticality, and real verifiers agree."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.authority import create_root_ca
from core.keys import KeyType
from core.profiles import CLIENT_DEFAULT_DAYS, parse_hosts
from tests.conftest import Classroom, need


def ext(cert: x509.Certificate, cls: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(cls)


def test_ca_profile_is_strict_compatible(classroom: Classroom) -> None:
    ca = classroom.authority.certificate
    bc = ext(ca, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True and bc.value.path_length == 0
    ku = ext(ca, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    ski = ext(ca, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    aki = ext(ca, x509.AuthorityKeyIdentifier)
    assert aki.value.key_identifier == ski.value.digest
    assert ca.not_valid_after_utc > ca.not_valid_before_utc
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650


def test_server_profile(classroom: Classroom) -> None:
    cert = classroom.workspace.server_certificate()
    san = ext(cert, x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.value.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    eku = ext(cert, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    ca_ski = ext(classroom.authority.certificate, x509.SubjectKeyIdentifier).value
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski.digest
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 398


def test_client_profile(classroom: Classroom) -> None:
    cert = classroom.bundle.certificate
    eku = ext(cert, x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.RFC822Name) == ["ada@example.org"]
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_encipherment
    ca_ski = ext(classroom.authority.certificate, x509.SubjectKeyIdentifier).value.digest
    aki = ext(cert, x509.AuthorityKeyIdentifier)
    assert not aki.critical and aki.value.key_identifier == ca_ski
    ski = ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical and ski.value == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    # The default life is a school term, and the dates are what was asked for.
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (CLIENT_DEFAULT_DAYS, CLIENT_DEFAULT_DAYS + 1)


@pytest.mark.parametrize(("key_type", "hash_name"), [
    (KeyType.EC_P256, "sha256"), (KeyType.EC_P384, "sha384"), (KeyType.RSA_2048, "sha256"),
])
def test_each_ca_signs_with_its_curve_s_hash(tmp_path: Path, key_type: KeyType, hash_name: str) -> None:
    from core.workspace import Workspace
    from tests.conftest import CA_PASSPHRASE

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name=f"{key_type.value} CA", passphrase=CA_PASSPHRASE, key_type=key_type)
    leaf = authority.issue_client(name="Student").certificate
    crl = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    for signed in (authority.certificate, leaf, crl):
        assert signed.signature_hash_algorithm is not None and signed.signature_hash_algorithm.name == hash_name


@pytest.mark.parametrize(("purpose", "which"), [("sslserver", "server"), ("sslclient", "client")])
def test_openssl_strict_verify(classroom: Classroom, purpose: str, which: str) -> None:
    ws = classroom.workspace
    leaf = ws.server_cert_path if which == "server" else classroom.bundle.cert_path
    out = subprocess.run(
        [need("openssl"), "verify", "-x509_strict", "-purpose", purpose, "-CAfile", str(ws.ca_cert_path), str(leaf)],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_serials_are_random_and_distinct(classroom: Classroom) -> None:
    serials = {classroom.authority.issue_client(name=f"s{i}").certificate.serial_number for i in range(50)}
    assert len(serials) == 50
    assert all(s.bit_length() >= 64 for s in serials)


def test_rsa_ca_and_server_use_key_encipherment() -> None:
    ca = create_root_ca(common_name="RSA CA", key_type=KeyType.RSA_2048)
    server = ca.issue_server(hosts=["localhost"], key_type=KeyType.RSA_2048).certificate
    assert ext(server, x509.KeyUsage).value.key_encipherment


def test_ed25519_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="browsers"):
        KeyType.parse("ed25519")


def test_legacy_numeric_addresses_are_not_taken_for_names() -> None:
    for legacy in ("0x0", "10.1", "0x7f.1"):  # inet_aton reads these as addresses; a certificate would name them
        with pytest.raises(ValueError, match="legacy spelling"):
            parse_hosts(["localhost", legacy])


@pytest.mark.parametrize("bad", ["", "bad host", "-x.example", "a..b", "ex ample.org", "x" * 300])
def test_bad_host_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid host name or IP address|at least one host name"):
        parse_hosts([bad])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "::0", "0:0:0:0:0:0:0:0", "[::]", " 0.0.0.0 ",  # noqa: S104
                                  "::ffff:0.0.0.0"])
def test_the_any_address_is_refused_with_the_reason(host: str) -> None:
    with pytest.raises(ValueError, match="'any' address"):
        parse_hosts(["localhost", host])


def test_long_host_name_goes_into_the_san_with_a_short_cn() -> None:
    ca = create_root_ca(common_name="Long Names CA")
    long_name = "a" * 60 + ".classroom.example"  # 78 characters: a valid DNS name, too long for a CN
    cert = ca.issue_server(hosts=[long_name, "localhost"]).certificate
    assert cert.subject.rfc4514_string() == "CN=localhost"
    assert long_name in ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    with pytest.raises(ValueError, match="64 characters or shorter"):
        ca.issue_server(hosts=[long_name])
