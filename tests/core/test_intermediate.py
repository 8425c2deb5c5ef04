"""An optional intermediate CA: the root stays offline, the intermediate issues, chains carry it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.authority import create_intermediate_ca, create_root_ca
from core.bundles import read_p12
from core.workspace import Workspace
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, CA_PASSPHRASE, need


def _path_length(cert: x509.Certificate) -> int | None:
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    return bc.value.path_length


def test_path_length_allows_an_intermediate_only_when_offered() -> None:
    plain = create_root_ca(common_name="Plain CA")
    assert _path_length(plain.certificate) == 0
    with pytest.raises(ValueError, match="may not have intermediates"):
        create_intermediate_ca(plain, common_name="Sub CA", valid_days=30)
    root = create_root_ca(common_name="Root CA", allow_intermediate=True)
    assert _path_length(root.certificate) == 1
    sub = create_intermediate_ca(root, common_name="Sub CA", valid_days=30)
    assert _path_length(sub.certificate) == 0
    assert sub.chain_to_root() == [sub.certificate, root.certificate]
    with pytest.raises(ValueError, match="may not have intermediates"):
        create_intermediate_ca(sub, common_name="Sub-sub CA", valid_days=10)


def test_intermediate_workspace_issues_and_the_site_accepts(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Course CA", organization="School", passphrase=CA_PASSPHRASE,
                             intermediate=True)
    root = ws.trust_anchor()
    assert root.subject.rfc4514_string() == "CN=Course CA Root,O=School"
    assert authority.certificate.issuer == root.subject
    assert ws.root_key_path.is_file() and b"ENCRYPTED" in ws.root_key_path.read_bytes()
    # reopening finds the chain; the root key is not needed to issue
    ws.root_key_path.rename(tmp_path / "offline-root.key")
    authority = Workspace(ws.root).load_ca(CA_PASSPHRASE)
    assert authority.chain == (root,)
    ws.issue_server(authority)
    chain = x509.load_pem_x509_certificates(ws.server_cert_path.read_bytes())
    assert chain[1:] == [authority.certificate, root]
    bundle = ws.issue_client_bundle(authority, name="Ada", password=BUNDLE_PASSWORD)
    assert read_p12(bundle.bundle_path, BUNDLE_PASSWORD).ca_certificates == [authority.certificate, root]

    root_file = tmp_path / "root.crt"
    root_file.write_bytes(ws.root_cert_path.read_bytes())
    inter = tmp_path / "inter.crt"
    inter.write_bytes(authority.certificate.public_bytes(serialization.Encoding.PEM))
    for purpose, leaf in (("sslserver", ws.server_cert_path), ("sslclient", bundle.cert_path)):
        out = subprocess.run([need("openssl"), "verify", "-x509_strict", "-purpose", purpose, "-CAfile",
                              str(root_file), "-untrusted", str(inter), str(leaf)],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout + out.stderr

    site = DemoSite(SiteConfig.from_workspace(ws, port=0))
    url = site.start()
    try:
        # curl trusts only the root: the server must send the intermediate itself
        config = f'cacert = "{root_file}"\ncert-type = "P12"\ncert = "{bundle.bundle_path}:{BUNDLE_PASSWORD}"\n'
        out = subprocess.run([need("curl"), "-sS", "-K", "-", url], input=config, capture_output=True, text=True,
                             timeout=30, check=False)
        assert out.returncode == 0, out.stderr
        assert "CN=Ada" in out.stdout
    finally:
        site.stop()


def test_the_doctor_accepts_the_root_students_import(tmp_path: Path) -> None:
    """`export ca` hands students the root; their bundle is signed by the intermediate it carries."""
    from core.doctor import Verdict, diagnose_bundle

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Course CA", passphrase=CA_PASSPHRASE, intermediate=True)
    bundle = ws.issue_client_bundle(authority, name="Ada", password=BUNDLE_PASSWORD)
    exported = tmp_path / "handed-out" / "ca.crt"
    exported.parent.mkdir()
    exported.write_bytes(ws.root_cert_path.read_bytes())
    for ca in (exported, ws.root_cert_path, ws.ca_cert_path):
        report = diagnose_bundle(bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=ca)
        chain = next(c for c in report.checks if c.name == "chain")
        assert chain.verdict is Verdict.OK, (ca, chain.detail)
        assert report.healthy, report.to_text()
        assert all(c.verdict is Verdict.OK for c in report.checks), report.to_text()  # the CRL check too
    via_root = next(c for c in diagnose_bundle(bundle.bundle_path, BUNDLE_PASSWORD, ca_cert=exported).checks
                    if c.name == "chain")
    assert "signed by the intermediate CN=Course CA" in via_root.detail and "Course CA Root" in via_root.detail
