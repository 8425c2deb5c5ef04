"""Friendly mode: no certificate gets an explanation page; a bad certificate is still refused in the handshake."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded_server.site import DemoSite, SiteConfig, SiteError
from tests.conftest import Classroom, need
from tests.server.test_site import curl


@pytest.fixture
def friendly(classroom: Classroom) -> Iterator[DemoSite]:
    site = DemoSite(SiteConfig.from_workspace(classroom.workspace, port=0, mode="friendly"))
    site.start()
    yield site
    site.stop()


def test_no_certificate_gets_the_how_to_page(friendly: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    out = curl(friendly, classroom, tmp_path, "-w", "\n%{http_code}", friendly.url + "user")
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith("\n403")
    assert "Your browser sent no certificate" in out.stdout
    assert "Hello" not in out.stdout


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_handshake_without_certificate_completes(friendly: DemoSite, classroom: Classroom, version: str) -> None:
    out = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{friendly.address[1]}", "-CAfile",
         str(classroom.ca_cert), "-ign_eof", version],
        input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=30, check=False)
    text = (out.stdout + out.stderr).decode()
    assert "HTTP/1.0 403" in text
    assert "alert" not in text


def test_valid_bundle_still_gets_in(friendly: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    out = curl(friendly, classroom, tmp_path, friendly.url, bundle=classroom.bundle.bundle_path)
    assert "CN=Ada Lovelace" in out.stdout


def test_bundle_from_another_ca_still_refused_in_handshake(friendly: DemoSite, classroom: Classroom,
                                                           other_classroom: Classroom, tmp_path: Path) -> None:
    out = curl(friendly, classroom, tmp_path, friendly.url, bundle=other_classroom.bundle.bundle_path)
    assert out.returncode != 0
    assert "Welcome" not in out.stdout and "sent no certificate" not in out.stdout
    assert any(e.message == "client certificate from an unknown CA" for e in friendly.events.recent())


def test_unknown_mode_is_refused(classroom: Classroom) -> None:
    with pytest.raises(SiteError, match="unknown mode"):
        SiteConfig.from_workspace(classroom.workspace, mode="lenient")


def test_friendly_mode_without_a_certificate_trusts_no_identity_header(friendly: DemoSite, classroom: Classroom,
                                                                       tmp_path: Path) -> None:
    """The one mode where a connection without a certificate reaches the app: no header can give it one."""
    forged = ["-H", "SSL-Client-S-DN: CN=Ada Lovelace,O=Tests", "-H", "SSL-Client-Verify: SUCCESS",
              "-H", "X-SSL-Client-Cert: MIIforged", "-H", "X-Forwarded-Client-Cert: Hash=00;Subject=CN=Ada"]
    for path in ("", "user", "certificate.pem"):
        out = curl(friendly, classroom, tmp_path, *forged, "-w", "\n%{http_code}", friendly.url + path)
        assert out.stdout.endswith("\n403"), (path, out.stdout[-200:])
        assert "Your browser sent no certificate" in out.stdout
        assert "CN=Ada Lovelace" not in out.stdout and "MIIforged" not in out.stdout and "Hello" not in out.stdout
    login = curl(friendly, classroom, tmp_path, *forged, "-w", "\n%{http_code}", "-d", "username=ada",
                 "-d", "password=login-pass-456", friendly.url + "login")
    assert login.stdout.endswith("\n403") and not any(e.kind == "login-ok" for e in friendly.events.recent())


def test_held_handshakes_without_a_certificate_never_lock_a_student_out(friendly: DemoSite, classroom: Classroom,
                                                                       tmp_path: Path) -> None:
    """Friendly mode completes a handshake without a certificate; 300 of them held open from the student's own
    address (past its 256 connections) must not keep the student out: they are the first dropped."""
    import contextlib
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=str(classroom.ca_cert))
    held: list[ssl.SSLSocket] = []
    try:
        for _ in range(300):
            raw = socket.create_connection(friendly.address, timeout=10)
            try:
                held.append(ctx.wrap_socket(raw, server_hostname="localhost"))
            except OSError:
                raw.close()  # dropped while handshaking: the point
        out = curl(friendly, classroom, tmp_path, "--max-time", "10", friendly.url, bundle=classroom.bundle.bundle_path)
        assert out.returncode == 0, out.stderr
        assert "CN=Ada Lovelace" in out.stdout
    finally:
        for s in held:
            with contextlib.suppress(OSError):
                s.close()
