"""Importing existing CAs made by easy-rsa, Java keytool and openssl, then issuing from them."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.importer import CAImportError, ImportedCA, check_ca_profile, import_p12, import_pem
from core.workspace import Workspace
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, CA_PASSPHRASE, need

EASYRSA = "/usr/share/easy-rsa/easyrsa"


def _easyrsa(pki: Path, *args: str, password_file: Path | None = None) -> None:
    env = dict(os.environ, EASYRSA_BATCH="1", EASYRSA_PKI=str(pki), EASYRSA_REQ_CN="EasyRSA Classroom CA")
    if password_file is not None:
        env |= {"EASYRSA_PASSOUT": f"file:{password_file}", "EASYRSA_PASSIN": f"file:{password_file}"}
    out = subprocess.run([EASYRSA, *args], env=env, capture_output=True, text=True, check=False, timeout=120,
                         cwd=pki.parent)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def easyrsa_nopass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pki = tmp_path_factory.mktemp("easyrsa") / "pki"
    _easyrsa(pki, "init-pki")
    _easyrsa(pki, "build-ca", "nopass")
    return pki


def _issue_and_connect(ca: ImportedCA, tmp_path: Path) -> None:
    """Import into a workspace, issue a server and a bundle, and log the bundle into the real site."""
    ws = Workspace(tmp_path / "ws")
    ws.import_ca(ca.authority, passphrase=CA_PASSPHRASE)
    authority = ws.load_ca(CA_PASSPHRASE)  # the stored key opens with the new passphrase
    ws.issue_server(authority)
    bundle = ws.issue_client_bundle(authority, name="Imported Student", password=BUNDLE_PASSWORD)
    site = DemoSite(SiteConfig.from_workspace(ws, port=0))
    url = site.start()
    try:
        config = f'cacert = "{ws.ca_cert_path}"\ncert-type = "P12"\ncert = "{bundle.bundle_path}:{BUNDLE_PASSWORD}"\n'
        out = subprocess.run([need("curl"), "-sS", "-K", "-", url], input=config, capture_output=True, text=True,
                             timeout=30, check=False)
        assert out.returncode == 0, out.stderr
        assert "CN=Imported Student" in out.stdout
        refused = subprocess.run([need("curl"), "-sS", "-K", "-", url], input=f'cacert = "{ws.ca_cert_path}"\n',
                                 capture_output=True, text=True, timeout=30, check=False)
        assert refused.returncode != 0  # no bundle, no entry
    finally:
        site.stop()


def test_easyrsa_ca_without_passphrase_imports_and_issues(easyrsa_nopass: Path, tmp_path: Path) -> None:
    ca = import_pem((easyrsa_nopass / "ca.crt").read_bytes(), (easyrsa_nopass / "private" / "ca.key").read_bytes())
    assert any("basicConstraints is not marked critical" in w and "VERIFY_X509_STRICT" in w for w in ca.warnings)
    _issue_and_connect(ca, tmp_path)


def test_easyrsa_ca_with_passphrase(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pw = tmp_path / "pw"
    # openssl reads one line for -passin and the next for -passout when both name the same file
    pw.write_text("easyrsa-secret\neasyrsa-secret\n")
    _easyrsa(pki, "init-pki")
    _easyrsa(pki, "build-ca", password_file=pw)
    key = (pki / "private" / "ca.key").read_bytes()
    assert b"ENCRYPTED" in key
    with pytest.raises(CAImportError, match="encrypted: give its password"):
        import_pem((pki / "ca.crt").read_bytes(), key)
    with pytest.raises(CAImportError, match="password is wrong"):
        import_pem((pki / "ca.crt").read_bytes(), key, key_password="not-it")
    ca = import_pem((pki / "ca.crt").read_bytes(), key, key_password="easyrsa-secret")
    _issue_and_connect(ca, tmp_path)


def test_keytool_p12_ca_imports_and_issues(tmp_path: Path) -> None:
    store, pw = tmp_path / "ca.p12", tmp_path / "pw"
    pw.write_text("keytool-secret\n")
    out = subprocess.run(
        [need("keytool"), "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1",
         "-dname", "CN=Keytool Classroom CA, O=Java", "-ext", "bc:c=ca:true", "-ext", "ku:c=keyCertSign,cRLSign",
         "-validity", "3650", "-storetype", "pkcs12", "-keystore", str(store),
         "-storepass:file", str(pw), "-keypass:file", str(pw)],
        capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    with pytest.raises(CAImportError, match="cannot be opened"):
        import_p12(store.read_bytes(), "wrong-password")
    ca = import_p12(store.read_bytes(), "keytool-secret")
    assert ca.warnings == []
    _issue_and_connect(ca, tmp_path)


def test_openssl_der_certificate_with_plain_key(tmp_path: Path) -> None:
    key, crt = tmp_path / "ca.key", tmp_path / "ca.der"
    out = subprocess.run(
        [need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
         "-keyout", str(key), "-outform", "DER", "-out", str(crt), "-days", "30", "-subj", "/CN=Short CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "subjectKeyIdentifier=none",
         "-addext", "keyUsage=keyCertSign,cRLSign"],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    ca = import_pem(crt.read_bytes(), key.read_bytes())
    text = " | ".join(ca.warnings)
    assert "no subject key identifier" in text
    assert "keyUsage is not critical" in text
    assert re.search(r"expires on .* \(\d+ days\)", text)
    # it still issues: leaves get an AKI computed from the key
    leaf = ca.authority.issue_client(name="Student", valid_days=10).certificate
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(ca.authority.key.public_key()).digest


def test_a_ca_that_cannot_sign_crls_is_refused_with_the_consequence(tmp_path: Path) -> None:
    """Without cRLSign OpenSSL refuses its CRLs, and the site, which checks every student against one, everyone."""
    key, crt = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(
        [need("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(crt), "-days", "30", "-subj", "/CN=No CRL CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
        capture_output=True, text=True, check=True)
    with pytest.raises(CAImportError, match=r"lacks cRLSign.*would refuse them all"):
        import_pem(crt.read_bytes(), key.read_bytes())


def test_key_must_match_the_certificate(easyrsa_nopass: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(CAImportError, match="does not belong"):
        import_pem((easyrsa_nopass / "ca.crt").read_bytes(), other)


def test_a_leaf_is_not_a_ca(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Real CA", passphrase=CA_PASSPHRASE)
    leaf = authority.issue_client(name="Student")
    with pytest.raises(CAImportError, match="not a CA"):
        check_ca_profile(leaf.certificate)
    with pytest.raises(CAImportError, match="not a PEM or DER"):
        import_pem(b"hello", b"")


def test_import_refuses_a_workspace_with_a_ca(easyrsa_nopass: Path, tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.create_ca(common_name="Existing CA", passphrase=CA_PASSPHRASE)
    before = ws.ca_cert_path.read_bytes()
    ca = import_pem((easyrsa_nopass / "ca.crt").read_bytes(), (easyrsa_nopass / "private" / "ca.key").read_bytes())
    with pytest.raises(ValueError, match="already has a CA"):
        ws.import_ca(ca.authority, passphrase=CA_PASSPHRASE)
    assert ws.ca_cert_path.read_bytes() == before
