"""Revocation: the CRL is enforced and a revocation applies to the next connection, without a restart."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.authority import Authority
from core.bundles import read_p12
from core.connection_test import ConnectionTestInput, run_connection_test
from core.workspace import Workspace, WorkspaceError
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, CA_PASSPHRASE, make_classroom, need
from tests.server.test_site import curl


def test_revoked_student_refused_while_others_get_in(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    grace = ws.issue_client_bundle(room.authority, name="Grace Hopper", password=BUNDLE_PASSWORD)
    site = DemoSite(SiteConfig.from_workspace(ws, port=0))
    site.start()
    try:
        assert "CN=Ada Lovelace" in curl(site, room, tmp_path, site.url, bundle=room.bundle.bundle_path).stdout

        record = ws.revoke(room.authority, "Ada Lovelace", reason="keyCompromise")
        assert record.status == "revoked"

        refused = curl(site, room, tmp_path, site.url, bundle=room.bundle.bundle_path)
        assert refused.returncode != 0
        assert "Welcome" not in refused.stdout
        assert any(e.message == "client certificate revoked" for e in site.events.recent())

        other = curl(site, room, tmp_path, site.url, bundle=grace.bundle_path)
        assert "CN=Grace Hopper" in other.stdout

        # openssl s_client sees the alert a real server sends.
        key = tmp_path / "k.pem"
        cert = tmp_path / "c.pem"
        pw = tmp_path / "pw"
        pw.write_text(BUNDLE_PASSWORD)
        bundle = read_p12(room.bundle.bundle_path, BUNDLE_PASSWORD)
        cert.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(bundle.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.BestAvailableEncryption(BUNDLE_PASSWORD.encode())))
        out = subprocess.run(
            [need("openssl"), "s_client", "-connect", f"127.0.0.1:{site.address[1]}", "-CAfile", str(room.ca_cert),
             "-cert", str(cert), "-key", str(key), "-pass", f"file:{pw}", "-tls1_2"],
            input=b"", capture_output=True, timeout=30, check=False)
        assert "alert certificate revoked" in (out.stdout + out.stderr).decode()
    finally:
        site.stop()


def test_crl_lists_the_revocation_with_reason_and_number(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    first = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    serial = format(room.bundle.certificate.serial_number, "X")
    ws.revoke(room.authority, serial, reason="superseded")
    crl = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    assert crl.is_signature_valid(room.authority.certificate.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(room.bundle.certificate.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc
    assert x509.load_der_x509_crl(ws.crl_der_path.read_bytes()) == crl
    verify = subprocess.run([need("openssl"), "verify", "-crl_check", "-CAfile", str(ws.ca_cert_path), "-CRLfile",
                             str(ws.crl_pem_path), str(room.bundle.cert_path)], capture_output=True, text=True,
                            check=False)
    assert "certificate revoked" in verify.stdout + verify.stderr


def test_revoke_refusals(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    with pytest.raises(WorkspaceError, match="no valid certificate"):
        ws.revoke(room.authority, "Nobody")
    with pytest.raises(ValueError, match="unknown revocation reason"):
        ws.revoke(room.authority, "Ada Lovelace", reason="because")
    ws.revoke(room.authority, "Ada Lovelace")
    serial = format(room.bundle.certificate.serial_number, "X")
    with pytest.raises(ValueError, match="already revoked"):
        ws.revoke(room.authority, serial)
    ca_serial = format(room.authority.certificate.serial_number, "X")
    with pytest.raises(ValueError, match="cannot revoke itself"):
        ws.revoke(room.authority, ca_serial)


def _write_crl(ws: Workspace, authority: Authority, *, now: dt.datetime, validity: dt.timedelta) -> None:
    from core.revocation import build_crl, crl_pem_der

    pem, der = crl_pem_der(build_crl(authority, ws.registry, now=now, validity=validity))
    ws.crl_pem_path.write_bytes(pem)
    ws.crl_der_path.write_bytes(der)


def test_a_crl_near_its_next_update_is_re_signed_on_unlock_and_by_refresh(tmp_path: Path) -> None:
    from core.revocation import CRL_REFRESH_WHEN_LEFT, CRL_VALIDITY

    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    now = dt.datetime.now(dt.UTC)
    _write_crl(ws, room.authority, now=now - CRL_VALIDITY + CRL_REFRESH_WHEN_LEFT - dt.timedelta(days=1),
               validity=CRL_VALIDITY)  # 14 days left: inside the margin
    stale = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    authority = ws.load_ca(CA_PASSPHRASE)
    fresh = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    number = fresh.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > stale.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert fresh.next_update_utc is not None and fresh.next_update_utc > now + CRL_VALIDITY - dt.timedelta(hours=1)
    assert fresh.is_signature_valid(room.authority.key.public_key())  # type: ignore[arg-type]

    assert ws.refresh_crl(authority) is False  # fresh: left alone
    _write_crl(ws, authority, now=now, validity=dt.timedelta(days=2))
    assert ws.refresh_crl(authority) is True
    again = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    assert again.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number
    assert x509.load_der_x509_crl(ws.crl_der_path.read_bytes()) == again


def test_a_site_whose_crl_ran_out_names_that_and_takes_a_fresh_one_without_restart(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    _write_crl(ws, room.authority, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=40), validity=dt.timedelta(days=30))
    site = DemoSite(SiteConfig.from_workspace(ws, port=0))
    site.start()
    try:
        refused = curl(site, room, tmp_path, site.url, bundle=room.bundle.bundle_path)
        assert refused.returncode != 0
        reasons = [e.message for e in site.events.recent() if e.kind == "connection-refused"]
        assert reasons == ["the site's revocation list is out of date (unlock the CA to re-sign it)"]
        # The alert says "certificate expired"; Test Connection sees that ours is not, and names the CRL.
        for version in ("1.2", "1.3"):
            report = run_connection_test(ConnectionTestInput(
                url=site.url, ca_cert=room.ca_cert, bundle=room.bundle.bundle_path, bundle_password=BUNDLE_PASSWORD,
                tls_version=version))
            failed = report.failed_step
            assert failed is not None and "revocation list (CRL) has most likely run out" in (failed.cause or "")
        assert ws.refresh_crl(room.authority) is True
        back = curl(site, room, tmp_path, site.url, bundle=room.bundle.bundle_path)
        assert back.returncode == 0, back.stderr
        assert "CN=Ada Lovelace" in back.stdout
    finally:
        site.stop()


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_a_lost_registry_is_never_replaced_by_an_empty_one(tmp_path: Path, damage: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """An empty registry over an existing CA would re-sign a CRL listing nobody: revoked students back in."""
    import cli

    room = make_classroom(tmp_path / "ws")
    room.workspace.revoke(room.authority, "Ada Lovelace", reason="keyCompromise")
    crl_before = room.workspace.crl_pem_path.read_bytes()
    registry = room.workspace.registry_path
    if damage == "emptied":
        registry.write_bytes(b"")
    else:
        registry.unlink()
    for suffix in ("-wal", "-shm"):
        registry.with_name(registry.name + suffix).unlink(missing_ok=True)
    pf = tmp_path / "pass"
    pf.write_text(CA_PASSPHRASE + "\n")
    assert cli.main(["crl", "--workspace", str(room.workspace.root), "--passphrase-file", str(pf)]) == 2
    err = capsys.readouterr().err
    assert "missing or empty" in err and "backup" in err
    assert room.workspace.crl_pem_path.read_bytes() == crl_before  # still lists Ada
    assert not registry.is_file() or registry.stat().st_size == 0


def test_the_crl_number_never_goes_back_with_a_registry_from_an_older_backup(tmp_path: Path) -> None:
    import shutil

    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    backup = tmp_path / "registry-backup.sqlite3"
    shutil.copyfile(ws.registry_path, backup)
    for _ in range(3):
        ws.publish_crl(room.authority)
    published = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    shutil.copyfile(backup, ws.registry_path)
    restored = Workspace(ws.root)
    restored.publish_crl(restored.load_ca(CA_PASSPHRASE))
    after = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    number = lambda crl: crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number  # noqa: E731
    assert number(after) > number(published)


def test_a_missing_crl_fails_closed(tmp_path: Path) -> None:
    """Deleting crl.pem must not let revoked students back in: no start, and a running site keeps the last one."""
    from embedded_server.site import SiteError

    room = make_classroom(tmp_path / "ws")
    ws = room.workspace
    ws.revoke(room.authority, "Ada Lovelace", reason="keyCompromise")
    site = DemoSite(SiteConfig.from_workspace(ws, port=0))
    site.start()
    try:
        moved = tmp_path / "crl-elsewhere.pem"
        ws.crl_pem_path.rename(moved)
        refused = curl(site, room, tmp_path, site.url, bundle=room.bundle.bundle_path)
        assert refused.returncode != 0 and "Welcome" not in refused.stdout
        assert any(e.kind == "reload-failed" and "missing" in e.message for e in site.events.recent())
    finally:
        site.stop()
    with pytest.raises(SiteError, match=r"revocation list .* is missing"):
        DemoSite(SiteConfig.from_workspace(ws, port=0)).start()


@pytest.mark.parametrize("replacement", ["blank database", "another workspace's registry"])
def test_a_registry_that_is_not_this_ca_s_is_refused(tmp_path: Path, replacement: str) -> None:
    import shutil
    import sqlite3

    room = make_classroom(tmp_path / "ws")
    room.workspace.revoke(room.authority, "Ada Lovelace", reason="keyCompromise")
    crl_before = room.workspace.crl_pem_path.read_bytes()
    registry = room.workspace.registry_path
    for suffix in ("", "-wal", "-shm"):
        registry.with_name(registry.name + suffix).unlink(missing_ok=True)
    if replacement == "blank database":
        sqlite3.connect(registry).execute("VACUUM").connection.close()
    else:
        shutil.copyfile(make_classroom(tmp_path / "other", ca_name="Other CA").workspace.registry_path, registry)
    reopened = Workspace(room.workspace.root)
    with pytest.raises(WorkspaceError, match="does not belong to this workspace's CA"):
        reopened.publish_crl(reopened.load_ca(CA_PASSPHRASE))
    assert room.workspace.crl_pem_path.read_bytes() == crl_before
