"""The demo site over real loopback TLS, driven by real clients: curl, openssl s_client, Python ssl."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from core.bundles import read_p12
from embedded_server.site import DemoSite, SiteConfig, SiteError
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, need


def curl(site: DemoSite, classroom: Classroom, tmp_path: Path, *args: str, bundle: Path | None = None,
         password: str = BUNDLE_PASSWORD) -> subprocess.CompletedProcess[str]:
    """Run curl; the bundle password goes through a config on stdin, never argv."""
    config = f'cacert = "{classroom.ca_cert}"\n'
    if bundle is not None:
        config += f'cert-type = "P12"\ncert = "{bundle}:{password}"\n'
    return subprocess.run(
        [need("curl"), "-sS", "-K", "-", "-c", str(tmp_path / "jar"), "-b", str(tmp_path / "jar"), *args],
        input=config, capture_output=True, text=True, timeout=30, check=False,
    )


def test_curl_with_bundle_logs_in_and_reaches_user(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    bundle = classroom.bundle.bundle_path
    home = curl(site, classroom, tmp_path, site.url, bundle=bundle)
    assert home.returncode == 0, home.stderr
    assert "CN=Ada Lovelace,O=Tests" in home.stdout
    assert "CN=Test Classroom CA,O=Tests" in home.stdout
    assert 'id="login-form"' in home.stdout
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert token is not None

    before = curl(site, classroom, tmp_path, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                  site.url + "user", bundle=bundle)
    assert before.stdout.startswith("303 ") and before.stdout.endswith("/?error=session")

    login = curl(site, classroom, tmp_path, "-L", "-d", f"csrf={token.group(1)}", "-d", f"username={LOGIN_USER}",
                 "-d", f"password={LOGIN_PASSWORD}", site.url + "login", bundle=bundle)
    assert login.returncode == 0, login.stderr
    assert "Hello, ada" in login.stdout
    assert "Both factors passed" in login.stdout

    again = curl(site, classroom, tmp_path, site.url + "user", bundle=bundle)
    assert "Hello, ada" in again.stdout


def test_wrong_login_password_stays_on_login(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    bundle = classroom.bundle.bundle_path
    home = curl(site, classroom, tmp_path, site.url, bundle=bundle)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert token is not None
    login = curl(site, classroom, tmp_path, "-L", "-d", f"csrf={token.group(1)}", "-d", f"username={LOGIN_USER}",
                 "-d", "password=wrong-password", site.url + "login", bundle=bundle)
    assert "Wrong username or password" in login.stdout
    assert "Hello, ada" not in login.stdout


def test_login_without_csrf_token_is_refused(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    login = curl(site, classroom, tmp_path, "-L", "-d", f"username={LOGIN_USER}", "-d", f"password={LOGIN_PASSWORD}",
                 site.url + "login", bundle=classroom.bundle.bundle_path)
    assert "The form expired" in login.stdout
    assert "Hello, ada" not in login.stdout


def test_curl_without_certificate_is_refused(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    out = curl(site, classroom, tmp_path, site.url)
    assert out.returncode != 0
    assert "Welcome" not in out.stdout
    assert any(e.kind == "connection-refused" and e.message == "no client certificate" for e in site.events.recent())


@pytest.mark.parametrize(("version", "alert"), [
    ("-tls1_2", "alert handshake failure"),
    ("-tls1_3", "alert certificate required"),
])
def test_openssl_s_client_without_certificate_gets_the_alert(site: DemoSite, classroom: Classroom, version: str,
                                                              alert: str) -> None:
    out = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{site.address[1]}", "-CAfile", str(classroom.ca_cert),
         "-ign_eof", version],
        input=b"GET / HTTP/1.0\r\n\r\n", capture_output=True, timeout=30, check=False,
    )
    text = (out.stdout + out.stderr).decode()
    assert out.returncode != 0
    assert alert in text
    assert "HTTP/1.0 200" not in text


def test_bundle_from_another_ca_is_refused(site: DemoSite, classroom: Classroom, other_classroom: Classroom,
                                           tmp_path: Path) -> None:
    out = curl(site, classroom, tmp_path, site.url, bundle=other_classroom.bundle.bundle_path)
    assert out.returncode != 0
    assert "Welcome" not in out.stdout
    refusals = [e for e in site.events.recent() if e.kind == "connection-refused"]
    assert any(e.message == "client certificate from an unknown CA" for e in refusals)


def _strict_client(classroom: Classroom, tmp_path: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(classroom.ca_cert))
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    cert = tmp_path / "c.pem"
    key = tmp_path / "k.pem"
    cert.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(bundle.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(b"temp-pass")))
    ctx.load_cert_chain(cert, key, password="temp-pass")
    return ctx


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_python_strict_client_completes_handshake(site: DemoSite, classroom: Classroom, tmp_path: Path,
                                                  host: str) -> None:
    ctx = _strict_client(classroom, tmp_path)
    with socket.create_connection(("127.0.0.1", site.address[1]), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert b"CN=Ada Lovelace" in data


def test_forged_identity_headers_change_nothing(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    forged = ["-H", "SSL-Client-S-DN: CN=Admin", "-H", "X-SSL-Client-S-DN: CN=Admin",
              "-H", "X-Client-Cert: CN=Admin", "-H", "X-Forwarded-For: 10.0.0.1"]
    out = curl(site, classroom, tmp_path, *forged, site.url, bundle=classroom.bundle.bundle_path)
    assert "CN=Ada Lovelace" in out.stdout
    assert "CN=Admin" not in out.stdout


def test_direct_plain_hit_on_waitress_gets_no_access(site: DemoSite) -> None:
    host, port = site.backend_address
    assert host == "127.0.0.1"
    for headers in ({}, {"SSL-Client-S-DN": "CN=Ada Lovelace,O=Tests", "X-SSL-Client-Verify": "SUCCESS"}):
        for path in ("/", "/user"):
            resp = requests.get(f"http://{host}:{port}{path}", headers=headers, timeout=10, allow_redirects=False)
            assert resp.status_code == 403
            assert "No verified client certificate" in resp.text


def test_security_headers_on_pages(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    out = curl(site, classroom, tmp_path, "-D", "-", "-o", "/dev/null", site.url, bundle=classroom.bundle.bundle_path)
    headers = out.stdout.lower()
    assert "content-security-policy: default-src 'self'" in headers
    assert "x-frame-options: deny" in headers


def test_waitress_listens_on_loopback_only_and_front_defaults_to_loopback(site: DemoSite) -> None:
    assert site.address[0] == "127.0.0.1"
    assert site.backend_address[0] == "127.0.0.1"


def test_port_in_use_is_a_plain_error(classroom: Classroom) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        demo = DemoSite(SiteConfig.from_workspace(classroom.workspace, port=port))
        before = threading.active_count()
        with pytest.raises(SiteError, match=f"port {port} .* already in use"):
            demo.start()
        assert not demo.running
        assert threading.active_count() == before


def test_idle_client_does_not_block_others(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    with socket.create_connection(("127.0.0.1", site.address[1])):  # connects and says nothing
        out = curl(site, classroom, tmp_path, "--max-time", "5", site.url, bundle=classroom.bundle.bundle_path)
    assert out.returncode == 0, out.stderr
    assert "Welcome" in out.stdout


def test_start_stop_repeatedly_leaves_no_threads(classroom: Classroom) -> None:
    before = threading.active_count()
    demo = DemoSite(SiteConfig.from_workspace(classroom.workspace, port=0))
    for _ in range(5):
        demo.start()
        demo.stop()
    assert threading.active_count() == before
