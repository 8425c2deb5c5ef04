"""Certificate facts the app can trust, a flood from one address, a bounded event log, headers on every page,
the full chain, and the classroom bind address."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from core.bundles import read_p12
from embedded_server.events import Event, EventLog
from embedded_server.site import DemoSite, SiteConfig, SiteError
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom, need
from tests.server.test_sessions import post_login
from tests.server.test_site import curl


def ada_certificate(classroom: Classroom) -> x509.Certificate:
    return read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD).certificate


def test_app_gets_fingerprint_and_certificate_that_headers_cannot_set(site: DemoSite, classroom: Classroom,
                                                                       tmp_path: Path) -> None:
    cert = ada_certificate(classroom)
    real_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    forged_pem = "-----BEGIN CERTIFICATE-----\\nMIIforged\\n-----END CERTIFICATE-----"
    forged = []
    for name in ("SSL-Client-Cert", "SSL_CLIENT_CERT", "X-SSL-Client-Cert", "SSL-Client-Fingerprint-SHA256",
                 "SSL_CLIENT_FINGERPRINT_SHA256", "SSL-Client-Verify", "SSL-Client-S-DN"):
        forged += ["-H", f"{name}: {forged_pem if 'Cert' in name or 'CERT' in name else 'AA:BB'}"]
    pem = curl(site, classroom, tmp_path, *forged, site.url + "certificate.pem", bundle=classroom.bundle.bundle_path)
    assert pem.returncode == 0, pem.stderr
    assert pem.stdout == real_pem
    home = curl(site, classroom, tmp_path, *forged, site.url, bundle=classroom.bundle.bundle_path)
    assert f'id="cert-fingerprint">{fingerprint}<' in home.stdout
    assert "AA:BB" not in home.stdout and "MIIforged" not in home.stdout


@pytest.mark.parametrize("sources", [["127.0.0.1"], ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]],
                         ids=["from-the-student-s-own-address", "from-four-addresses-past-the-front-s-limit"])
def test_silent_connections_never_lock_a_student_out(site: DemoSite, classroom: Classroom, tmp_path: Path,
                                                     sources: list[str]) -> None:
    """No certificate is needed to open a TCP connection, so silent ones must not fill the front: the oldest
    unfinished handshakes are dropped for new ones. On loopback (and behind a classroom NAT) the flood and the
    student share one address; with four addresses the 600 exceed the front's 512 connections."""
    port = site.address[1]
    attacker: list[socket.socket] = []
    dropped = threading.Event()

    def watch(event: Event) -> None:
        if event.message.startswith("an unfinished handshake was dropped"):
            dropped.set()

    site.events.subscribe(watch)
    try:
        for i in range(600):
            s = socket.socket()
            attacker.append(s)
            s.bind((sources[i % len(sources)], 0))
            s.settimeout(10)
            with contextlib.suppress(OSError):  # dropped ones may be reset while we connect
                s.connect(("127.0.0.1", port))
        assert dropped.wait(30), "the flood was never thinned"
        out = curl(site, classroom, tmp_path, "--max-time", "10", site.url, bundle=classroom.bundle.bundle_path)
        assert out.returncode == 0, out.stderr
        assert "CN=Ada Lovelace" in out.stdout
    finally:
        site.events.unsubscribe(watch)
        for s in attacker:
            s.close()
    # The flood is logged a few times per address, not 600 times.
    floods = [e for e in site.events.recent() if e.message.startswith("an unfinished handshake was dropped")]
    assert 1 <= len(floods) <= 10 * len(sources)


def test_event_log_file_is_rotated_not_unbounded(tmp_path: Path) -> None:
    log = EventLog(path=tmp_path / "events.jsonl", max_file_bytes=10_000)
    for i in range(1000):
        log.emit("connection-refused", "too many connections", client="127.0.0.2", n=i)
    current, rotated = tmp_path / "events.jsonl", tmp_path / "events.jsonl.1"
    assert current.stat().st_size <= 10_000 + 200
    assert rotated.stat().st_size <= 10_000 + 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl", "events.jsonl.1"]
    last = json.loads(current.read_text().splitlines()[-1])
    assert last["n"] == 999
    assert current.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("path", "status"), [("does-not-exist", "404"), ("static/nothing.css", "404")])
def test_error_pages_carry_csp_and_frame_denial(site: DemoSite, classroom: Classroom, tmp_path: Path, path: str,
                                                status: str) -> None:
    out = curl(site, classroom, tmp_path, "-D", "-", site.url + path, bundle=classroom.bundle.bundle_path)
    head, _, body = out.stdout.partition("\n\n")
    lines = head.lower().splitlines()
    assert lines[0].split()[1] == status
    assert "content-security-policy: default-src 'self'; frame-ancestors 'none'; form-action 'self'" in lines
    assert "x-frame-options: deny" in lines
    assert "<style" not in body  # bottle's own error page has inline CSS the CSP would block
    assert "/static/site.css" in body


def test_method_not_allowed_page_also_has_headers(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    out = curl(site, classroom, tmp_path, "-D", "-", "-X", "DELETE", site.url + "user",
               bundle=classroom.bundle.bundle_path)
    head = out.stdout.partition("\n\n")[0].lower()
    assert head.startswith("http/1.1 405")
    assert "content-security-policy: default-src 'self'" in head


def test_user_page_is_no_store(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    assert post_login(site, classroom, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
    out = curl(site, classroom, tmp_path, "-D", "-", "-o", "/dev/null", site.url + "user",
               bundle=classroom.bundle.bundle_path)
    head = out.stdout.lower()
    assert head.startswith("http/1.1 200")
    assert "cache-control: no-store" in head
    assert "content-security-policy: default-src 'self'" in head


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_server_sends_its_full_chain(site: DemoSite, classroom: Classroom, version: str) -> None:
    out = subprocess.run(
        [need("openssl"), "s_client", "-connect", f"127.0.0.1:{site.address[1]}", "-showcerts", "-verify_return_error",
         "-CAfile", str(classroom.ca_cert), version],
        input=b"", capture_output=True, timeout=30, check=False)
    text = out.stdout.decode()
    sent = [x509.load_pem_x509_certificate(b) for b in _pem_blocks(text)]
    assert len(sent) == 2
    assert sent[1] == classroom.authority.certificate
    assert sent[0].issuer == sent[1].subject
    assert "Verify return code: 0 (ok)" in text


def _pem_blocks(text: str) -> list[bytes]:
    blocks, current = [], []
    for line in text.splitlines():
        if line == "-----BEGIN CERTIFICATE-----":
            current = [line]
        elif current:
            current.append(line)
            if line == "-----END CERTIFICATE-----":
                blocks.append(("\n".join(current) + "\n").encode())
                current = []
    return blocks


def test_binding_an_address_the_certificate_does_not_cover_is_refused(classroom: Classroom) -> None:
    site = DemoSite(SiteConfig.from_workspace(classroom.workspace, host="127.0.0.2", port=0))
    with pytest.raises(SiteError, match=r"does not cover 127\.0\.0\.2.*issue-server --host 127\.0\.0\.2"):
        site.start()
    assert not site.running


@pytest.mark.parametrize("host", ["0.0.0.0",  # noqa: S104 (refused)
                                  "::", "::0", "0:0:0:0:0:0:0:0", "[::]", "0", "0x0", "0.0.0.0 ",
                                  " ::0 ", "", "::ffff:0.0.0.0", "[::ffff:0:0]"])
def test_wildcard_bind_is_refused(classroom: Classroom, host: str) -> None:
    site = DemoSite(SiteConfig.from_workspace(classroom.workspace, host=host, port=0))
    with pytest.raises(SiteError, match="one interface"):
        site.start()
    assert not site.running


def test_classroom_address_with_a_certificate_for_it(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    room.workspace.issue_server(room.authority, hosts=["127.0.0.2", "localhost", "127.0.0.1"])
    site = DemoSite(SiteConfig.from_workspace(room.workspace, host="127.0.0.2", port=0))
    site.start()
    try:
        assert site.url.startswith("https://127.0.0.2:")
        out = curl(site, room, tmp_path, site.url, bundle=room.bundle.bundle_path)  # curl checks the IP SAN
        assert out.returncode == 0, out.stderr
        assert "CN=Ada Lovelace" in out.stdout
    finally:
        site.stop()


def test_a_crash_in_a_page_gives_a_500_with_the_same_headers(classroom: Classroom, tmp_path: Path) -> None:
    """A route that raises: the 500 page follows the CSP, says nothing internal, and the event log has it."""
    import io
    import wsgiref.util

    from core.site_users import UserStore
    from embedded_server.app import create_app
    from embedded_server.identity import ClientIdentity, IdentityTable

    identities = IdentityTable()
    der = ada_certificate(classroom).public_bytes(serialization.Encoding.DER)
    identities.register(40000, ClientIdentity.from_der(der, protocol="TLSv1.3", cipher="X", client_address="127.0.0.1"))
    events = EventLog()
    app = create_app(identities=identities, users=UserStore(classroom.workspace.users_path), events=events)

    def boom() -> str:
        raise RuntimeError("secret internals")

    app.route("/boom", "GET", boom)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/boom", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
               "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO()}
    wsgiref.util.setup_testing_defaults(environ)
    seen: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        seen["status"], seen["headers"] = status, {k.lower(): v for k, v in headers}

    body = b"".join(app(environ, start_response)).decode()
    headers = seen["headers"]
    assert isinstance(headers, dict)
    assert str(seen["status"]).startswith("500")
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-frame-options"] == "DENY"
    assert "secret internals" not in body and "<style" not in body
    assert any(e.kind == "error" and "secret internals" in e.message for e in events.recent())


def test_the_app_sees_the_serial_expiry_protocol_and_cipher_of_the_real_connection(
        site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    """The environ facts the page shows are those of this TLS connection, as the client itself sees them."""
    import html
    import ssl as ssl_module

    from tests.server.test_load import client_context

    cert = ada_certificate(classroom)
    ctx = client_context(classroom, tmp_path)
    for version in (ssl_module.TLSVersion.TLSv1_2, ssl_module.TLSVersion.TLSv1_3):
        ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(site.address, timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            negotiated, cipher = tls.version(), tls.cipher()  # before the server's close_notify clears them
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            body = b""
            while chunk := tls.recv(65536):
                body += chunk
        page = html.unescape(body.decode())
        assert f'<dd class="mono">{format(cert.serial_number, "X")}</dd>' in page
        assert f'id="cert-expiry">{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC<' in page
        assert cipher is not None
        assert f"<dt>Connection</dt><dd>{negotiated}, {cipher[0]}</dd>" in page, (negotiated, cipher, page[-800:])
