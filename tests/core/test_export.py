"""Exports: CA for browsers as PEM .crt and DER .cer; certificates and chains as PEM, DER, PKCS#7."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

import cli
from core.export import ExportFormat, export_ca_for_browsers, export_certificates
from tests.conftest import CA_PASSPHRASE, Classroom, need


def test_ca_for_browsers_pem_and_der(classroom: Classroom, tmp_path: Path) -> None:
    crt, cer = export_ca_for_browsers(classroom.authority.certificate, tmp_path)
    assert x509.load_pem_x509_certificate(crt.read_bytes()) == classroom.authority.certificate
    assert x509.load_der_x509_certificate(cer.read_bytes()) == classroom.authority.certificate
    out = subprocess.run([need("openssl"), "x509", "-inform", "DER", "-in", str(cer), "-noout", "-subject"],
                         capture_output=True, text=True, check=True)
    assert "Test Classroom CA" in out.stdout


def test_chain_formats(classroom: Classroom, tmp_path: Path) -> None:
    ws = classroom.workspace
    chain = ws.certificate_of(ws.find("Ada Lovelace"), chain=True)
    assert chain == [classroom.bundle.certificate, classroom.authority.certificate]
    pem = export_certificates(chain, tmp_path / "ada-chain.pem")
    assert x509.load_pem_x509_certificates(pem.read_bytes()) == chain
    p7b = export_certificates(chain, tmp_path / "ada-chain.p7b")
    assert set(pkcs7.load_der_pkcs7_certificates(p7b.read_bytes())) == set(chain)  # a SET: DER sorts it
    with pytest.raises(ValueError, match="DER file holds one certificate"):
        export_certificates(chain, tmp_path / "ada.cer")
    der = export_certificates(chain[:1], tmp_path / "ada.cer")
    assert x509.load_der_x509_certificate(der.read_bytes()) == chain[0]
    assert ExportFormat.parse("DER") is ExportFormat.DER


def test_cli_export(classroom: Classroom, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(classroom.workspace.root)
    assert cli.main(["export", "ca", "--out", str(tmp_path), "--workspace", ws]) == 0
    assert (tmp_path / "ca.crt").is_file() and (tmp_path / "ca.cer").is_file()
    serial = classroom.workspace.find("Ada Lovelace").serial
    assert cli.main(["export", serial, "--chain", "--out", str(tmp_path / "x.crt"), "--workspace", ws]) == 0
    assert len(x509.load_pem_x509_certificates((tmp_path / "x.crt").read_bytes())) == 2
    assert cli.main(["export", "Nobody", "--out", str(tmp_path / "y.crt"), "--workspace", ws]) == 2
    assert "no valid certificate" in capsys.readouterr().err


def test_cli_roster_and_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(cli.ENV_CA, CA_PASSPHRASE)
    src = tmp_path / "src"
    assert cli.main(["init", "--workspace", str(src), "--name", "CLI CA"]) == 0
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nAda,ada@school.example\n,\nBob,bad\n")
    assert cli.main(["roster", str(roster), "--out", str(tmp_path / "out"), "--workspace", str(src)]) == 2
    assert "line 4:" in capsys.readouterr().err
    roster.write_text("name,email\nAda,ada@school.example\nBob,\n")
    assert cli.main(["roster", str(roster), "--out", str(tmp_path / "out"), "--workspace", str(src),
                     "--workers", "1", "--json"]) == 0
    assert '"issued": 2' in capsys.readouterr().out
    # the same CA imported elsewhere (plain PEM key exported by openssl from the stored encrypted key)
    pw = tmp_path / "pw"
    pw.write_text(CA_PASSPHRASE + "\n")
    assert cli.main(["import-ca", "--cert", str(src / "ca" / "ca.crt"), "--key", str(src / "ca" / "ca.key"),
                     "--key-password-file", str(pw), "--workspace", str(tmp_path / "dst")]) == 0
    assert "Imported CA 'CLI CA'" in capsys.readouterr().out


def test_export_never_overwrites_without_force_and_never_the_workspace(
        classroom: Classroom, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = classroom.workspace
    root = str(ws.root)
    target = tmp_path / "mine.crt"
    target.write_text("my notes\n")
    assert cli.main(["export", "ca", "--out", str(target), "--workspace", root]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert target.read_text() == "my notes\n"
    assert cli.main(["export", "ca", "--out", str(target), "--force", "--workspace", root]) == 0
    assert x509.load_pem_x509_certificate(target.read_bytes()) == ws.trust_anchor()

    link = tmp_path / "innocent.crt"
    link.symlink_to(ws.ca_key_path)
    fifo = tmp_path / "pipe.crt"
    os.mkfifo(fifo)
    guarded = {p: p.read_bytes() for p in (ws.ca_key_path, ws.ca_cert_path, ws.registry_path,
                                           ws.server_key_path, ws.server_key_pass_path)}
    for out in (*guarded, link, ws.root / "secrets" / "new.crt", ws.users_path, ws.root / "ca" / "new.cer"):
        assert cli.main(["export", "ca", "--out", str(out), "--force", "--workspace", root]) == 2, out
        assert "never write over" in capsys.readouterr().err
    for out in ("/dev/full", "/dev/null", str(fifo)):
        assert cli.main(["export", "ca", "--out", out, "--force", "--workspace", root]) == 2, out
        assert "not a regular file" in capsys.readouterr().err
    assert cli.main(["export", "ca", "--out", str(ws.root / "ca") + "/", "--force", "--workspace", root]) == 2
    assert "never write over" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in guarded} == guarded
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()
    assert not (ws.root / "secrets" / "new.crt").exists() and not (ws.root / "ca" / "new.cer").exists()


def test_export_ca_to_a_folder(classroom: Classroom, tmp_path: Path) -> None:
    root = str(classroom.workspace.root)
    new_folder = tmp_path / "for-students" / "certs"
    assert cli.main(["export", "ca", "--out", f"{new_folder}/", "--workspace", root]) == 0
    assert x509.load_pem_x509_certificate((new_folder / "ca.crt").read_bytes()) == classroom.workspace.trust_anchor()
    assert x509.load_der_x509_certificate((new_folder / "ca.cer").read_bytes()) == classroom.workspace.trust_anchor()
    existing = tmp_path / "existing"
    existing.mkdir()
    assert cli.main(["export", "ca", "--out", str(existing), "--workspace", root]) == 0
    assert sorted(p.name for p in existing.iterdir()) == ["ca.cer", "ca.crt"]
    assert cli.main(["export", "ca", "--out", str(existing), "--workspace", root]) == 2  # both there now
    plain = tmp_path / "no-slash"  # not there, no slash: a file, PEM by default
    assert cli.main(["export", "ca", "--out", str(plain), "--workspace", root]) == 0
    assert plain.is_file() and plain.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_cli_copies_a_bundle_and_never_writes_over_a_recorded_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.bundles import read_p12
    from tests.conftest import BUNDLE_PASSWORD, make_classroom

    room = make_classroom(tmp_path / "ws")
    ws, root = room.workspace, str(room.workspace.root)
    copy = tmp_path / "usb" / "ada.p12"
    assert cli.main(["export", "Ada Lovelace", "--out", str(copy), "--workspace", root]) == 0
    assert read_p12(copy, BUNDLE_PASSWORD).certificate == room.bundle.certificate
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert cli.main(["export", "localhost", "--out", str(tmp_path / "server.p12"), "--workspace", root]) == 2
    assert "has no bundle" in capsys.readouterr().err

    # The student's bundle is the only copy of their key: no --force replaces it, nor their certificate.
    before = room.bundle.bundle_path.read_bytes()
    for recorded in (room.bundle.bundle_path, room.bundle.cert_path):
        assert cli.main(["export", "ca", "--out", str(recorded), "--format", "pem", "--force",
                         "--workspace", root]) == 2
        assert "never write over" in capsys.readouterr().err
    assert room.bundle.bundle_path.read_bytes() == before

    # A path that only passes through a guarded folder ("server/../elsewhere") is not inside it.
    through = str(ws.root / "server" / ".." / "handouts") + "/"
    assert cli.main(["export", "ca", "--out", through, "--workspace", root]) == 0, capsys.readouterr().err
    assert (ws.root / "handouts" / "ca.crt").is_file()
