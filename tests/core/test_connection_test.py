"""Test Connection against the real demo site: each outcome gets its own diagnosis."""

from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives import serialization

from core.connection_test import ConnectionReport, ConnectionTestInput, Status, run_connection_test
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom
from tests.core.test_doctor import HOSTILE_NAME, assert_one_value_per_line, hostile_certificates


def run(classroom: Classroom, url: str, **overrides: object) -> ConnectionReport:
    values: dict[str, object] = {
        "url": url, "ca_cert": classroom.ca_cert, "bundle": classroom.bundle.bundle_path,
        "bundle_password": BUNDLE_PASSWORD, "username": LOGIN_USER, "password": LOGIN_PASSWORD, "timeout": 10.0,
    }
    values.update(overrides)
    return run_connection_test(ConnectionTestInput(**values))  # type: ignore[arg-type]


def statuses(report: ConnectionReport) -> list[str]:
    return [s.status.value for s in report.steps]


def test_success_every_step_ok(site: DemoSite, classroom: Classroom, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CA bundle environment must not change what the test trusts.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    seen = []
    report = run(classroom, site.url)
    report2 = run_connection_test(
        ConnectionTestInput(url=site.url, ca_cert=classroom.ca_cert, bundle=classroom.bundle.bundle_path,
                            bundle_password=BUNDLE_PASSWORD, username=LOGIN_USER, password=LOGIN_PASSWORD),
        on_step=seen.append)
    for r in (report, report2):
        assert r.ok, r.to_text()
        assert statuses(r) == ["ok"] * 6
    assert [s.key for s in seen] == ["bundle", "connect", "handshake", "client-certificate", "login",
                                     "protected-page"]
    bundle = report.steps[0].facts
    assert bundle["extended key usage"] == "clientAuth"
    assert bundle["chains to the chosen CA"] == "yes"
    hs = report.steps[2].facts
    assert hs["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert hs["server certificate"] == "CN=localhost"
    assert hs["server certificate issuer"] == "CN=Test Classroom CA,O=Tests"
    assert len(hs["server certificate SHA-256"]) == 95
    assert hs["chain certificate 1"] == "CN=Test Classroom CA,O=Tests"
    assert hs["host matched"] == "localhost: yes"
    assert hs["client certificate requested"] == "yes"
    assert hs["client certificate sent"] == "yes (CN=Ada Lovelace,O=Tests)"
    assert report.steps[5].facts["page"] == "/user"


def test_wrong_bundle_password_before_any_network(classroom: Classroom) -> None:
    report = run(classroom, "https://localhost:1/", bundle_password="wrong-password")
    assert statuses(report) == ["failed", "skipped", "skipped", "skipped", "skipped", "skipped"]
    assert report.steps[0].cause == "The bundle password is wrong."


def test_not_a_bundle(classroom: Classroom, tmp_path: Path) -> None:
    junk = tmp_path / "notes.p12"
    junk.write_text("just some notes")
    report = run(classroom, "https://localhost:1/", bundle=junk)
    assert report.steps[0].status is Status.FAILED
    assert "not a .p12" in (report.steps[0].cause or "")


def test_server_not_running(classroom: Classroom) -> None:
    report = run(classroom, "https://127.0.0.1:9/")
    assert statuses(report)[:3] == ["ok", "failed", "skipped"]
    assert report.failed_step is not None and report.failed_step.key == "connect"
    assert "Nothing is listening" in (report.steps[1].cause or "")


def test_bundle_from_another_ca(site: DemoSite, classroom: Classroom, other_classroom: Classroom) -> None:
    report = run(classroom, site.url, bundle=other_classroom.bundle.bundle_path)
    failed = report.failed_step
    assert failed is not None and failed.key in ("handshake", "client-certificate")
    assert "another CA" in (failed.cause or "")


def test_server_from_unknown_ca(site: DemoSite, classroom: Classroom, other_classroom: Classroom) -> None:
    report = run(classroom, site.url, ca_cert=other_classroom.ca_cert)
    assert report.steps[2].status is Status.FAILED
    assert "not signed by the CA you chose" in (report.steps[2].cause or "")
    # Our certificate is never shown to a server we do not trust.
    assert report.steps[2].facts.get("client certificate sent", "no") == "no"


@pytest.mark.parametrize(("hosts", "bind", "asked"), [
    (["127.0.0.1"], "127.0.0.1", "localhost"),  # a name the certificate lacks
    (["localhost"], "localhost", "127.0.0.1"),  # an IP address it lacks
])
def test_name_or_ip_not_in_server_certificate(tmp_path: Path, hosts: list[str], bind: str, asked: str) -> None:
    room = make_classroom(tmp_path / "ws")
    room.workspace.issue_server(room.authority, hosts=hosts)
    demo = DemoSite(SiteConfig.from_workspace(room.workspace, host=bind, port=0))
    demo.start()
    try:
        report = run(room, f"https://{asked}:{demo.address[1]}/")
    finally:
        demo.stop()
    step = report.steps[2]
    assert step.status is Status.FAILED
    assert (step.cause or "").startswith(f"The server's certificate is not made out for {asked}")
    assert step.facts["host matched"] == f"{asked}: no"
    assert step.facts.get("client certificate sent", "no") == "no"


def test_pem_with_wrong_key_password(classroom: Classroom, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from core.bundles import read_p12

    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    pem = tmp_path / "me.pem"
    pem.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM) + bundle.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(BUNDLE_PASSWORD.encode())))
    report = run(classroom, "https://localhost:1/", bundle=pem, bundle_password="wrong-password")
    assert report.steps[0].cause == "The key password is wrong."  # a PEM key's, not a handout's bundle password
    assert "key file" in (report.steps[0].fix or "")
    missing = run(classroom, "https://localhost:1/", bundle=pem, bundle_password="")
    assert missing.steps[0].cause == "The private key is encrypted and no password was given for it."
    ok = run(classroom, "https://127.0.0.1:9/", bundle=pem)
    assert ok.steps[0].status is Status.OK
    assert ok.steps[0].facts["subject"] == "CN=Ada Lovelace,O=Tests"


def test_wrong_login(site: DemoSite, classroom: Classroom) -> None:
    report = run(classroom, site.url, password="not-the-login")
    assert statuses(report) == ["ok", "ok", "ok", "ok", "failed", "skipped"]
    assert report.steps[4].cause == "The username or password is wrong."


def test_plain_http_url_refused(classroom: Classroom) -> None:
    report = run(classroom, "http://localhost:8443/")
    assert report.steps[1].key == "connect" and report.steps[1].status is Status.FAILED
    assert "https://" in (report.steps[1].cause or "")


def test_text_and_json_name_the_failed_step(classroom: Classroom) -> None:
    report = run(classroom, "https://127.0.0.1:9/")
    assert "Result: failed at 'Connected'" in report.to_text()
    assert '"ok": false' in report.to_json()


# -- a hostile server and a password in the address --------------------------------------------------------
class _HostileHandler(http.server.BaseHTTPRequestHandler):
    server_version = "\x1b[2J\x1b]0;owned\x07Evil\x9b2JServer"  # latin-1 only: \x9b is the C1 CSI
    seen: ClassVar[list[dict[str, str]]] = []

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        body = b"<html>broken on purpose</html>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class HostileServer:
    """A real TLS server on 127.0.0.1 whose certificate names try to take over the terminal."""

    def __init__(self, tmp_path: Path) -> None:
        ca, leaf, key = hostile_certificates(HOSTILE_NAME, dns_names=["localhost", "\x1b[1A\x1b[2Kfake.example"])
        pem = serialization.Encoding.PEM
        self.ca_file = tmp_path / "hostile-ca.crt"
        self.ca_file.write_bytes(ca.public_bytes(pem))
        chain, key_file = tmp_path / "hostile.crt", tmp_path / "hostile.key"
        chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
        key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key_file)
        _HostileHandler.seen = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostileHandler)
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.url = f"https://localhost:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[HostileServer]:
    server = HostileServer(tmp_path)
    yield server
    server.stop()


def test_hostile_server_names_cannot_fake_report_lines(hostile: HostileServer, classroom: Classroom) -> None:
    report = run(classroom, hostile.url, ca_cert=hostile.ca_file)
    assert statuses(report)[:4] == ["ok", "ok", "ok", "failed"], report.to_text()
    text = report.to_text()
    assert_one_value_per_line(text)
    assert text.endswith("Result: failed at 'Client certificate accepted'")
    assert "server certificate: CN=\\x1b[2J\\x0aResult: all steps passed" in text
    assert "server names (subjectAltName): localhost, \\x1b[1A\\x1b[2Kfake.example" in text
    assert "server software: \\x1b[2J\\x1b]0;owned\\x07Evil\\x9b2JServer" in text
    assert "chain certificate 1: CN=Hostile CA \\u202e\\x1b[31m" in text
    # The JSON keeps the server's real values (json.dumps escapes them).
    data = json.loads(report.to_json())
    assert data["steps"][2]["facts"]["server certificate"] == "CN=" + HOSTILE_NAME
    assert data["steps"][3]["facts"]["server software"] == _HostileHandler.server_version
    assert "\x1b" not in report.to_json()


def test_password_in_the_url_is_never_sent(hostile: HostileServer, classroom: Classroom) -> None:
    url = hostile.url.replace("https://", "https://ada:S3cretPW@")
    report = run(classroom, url, ca_cert=hostile.ca_file)
    assert report.url == hostile.url
    assert _HostileHandler.seen, "the server got no request"
    assert not any("authorization" in (k.lower() for k in headers) for headers in _HostileHandler.seen)
    assert "S3cretPW" not in report.to_text() + report.to_json()
    assert "were removed, not sent" in report.steps[1].facts["warning"]


@pytest.mark.parametrize("url", ["https://ada:S3cretPW@127.0.0.1:9/", "https://ada:S3cretPW@localhost:nope/",
                                 "https://ada:S3c@retPW@[::1/", "https:\n//ada:S3cretPW@127.0.0.1:9/"])
def test_password_in_the_url_is_never_shown(classroom: Classroom, url: str) -> None:
    report = run(classroom, url)
    for out in (report.to_text(), report.to_json()):
        assert "S3cretPW" not in out and "retPW" not in out and "ada:" not in out, out
    assert statuses(report)[:2] == ["ok", "failed"]
    assert "username and password" in report.steps[1].facts["warning"]


def test_cli_report_hides_the_url_password_when_the_connection_is_refused(classroom: Classroom) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MTLSLAB_BUNDLE_PASSWORD": BUNDLE_PASSWORD}
    for extra in ([], ["--json"]):
        out = subprocess.run(
            [sys.executable, str(root / "main.py"), "test", "https://user:S3cretPW@localhost:9/", "--ca",
             str(classroom.ca_cert), "--bundle", str(classroom.bundle.bundle_path), *extra],
            capture_output=True, text=True, env=env, cwd=root, timeout=120, check=False)
        assert out.returncode != 0
        assert "S3cretPW" not in out.stdout + out.stderr
        assert "https://localhost:9/" in out.stdout


def test_a_fifo_as_bundle_or_ca_is_refused_not_waited_on(site: DemoSite, classroom: Classroom,
                                                          tmp_path: Path) -> None:
    fifo = tmp_path / "bundle.p12"
    os.mkfifo(fifo)
    reports: list[ConnectionReport] = []
    worker = threading.Thread(target=lambda: reports.extend(
        [run(classroom, site.url, bundle=fifo), run(classroom, site.url, ca_cert=fifo)]))
    worker.start()
    worker.join(timeout=60)
    if worker.is_alive():  # the old code blocks in open(): a writer releases it, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=30)
        pytest.fail("Test Connection waited on a FIFO")
    bundle_report, ca_report = reports
    assert bundle_report.steps[0].cause == f"{fifo} is not a regular file."
    assert ca_report.failed_step is not None and ca_report.failed_step.key == "handshake"
    assert ca_report.failed_step.cause == "The CA certificate file cannot be read."


def test_a_login_refused_by_certificate_to_user_mapping_is_named_as_such(classroom: Classroom) -> None:
    """serve --match-cn: the right password under someone else's name is not "wrong password"."""
    from dataclasses import replace

    from embedded_server.site import SiteConfig

    matching = DemoSite(replace(SiteConfig.from_workspace(classroom.workspace), require_user_match=True))
    matching.start()
    try:
        report = run(classroom, matching.url)  # LOGIN_USER "ada" is not "Ada Lovelace" nor ada@example.org
    finally:
        matching.stop()
    login = report.steps[4]
    assert (login.key, login.status) == ("login", Status.FAILED)
    assert "only from the certificate's owner" in (login.cause or "")
    assert "wrong" not in (login.cause or "")
    assert "may only log in as its owner" in login.facts["site said"]


def test_a_run_without_login_says_which_steps_it_skipped(site: DemoSite, classroom: Classroom) -> None:
    report = run(classroom, site.url, username=None, password=None)
    assert report.ok
    assert report.to_text().endswith("Result: all steps passed (2 skipped: Login accepted, Protected page reached)")


@pytest.mark.parametrize(("behaviour", "cause"), [
    ("close", "closed the connection before any TLS reply"),
    ("garbage", "something that is not TLS"),
])
def test_a_server_that_never_speaks_tls_is_not_blamed_on_the_certificate(classroom: Classroom, behaviour: str,
                                                                        cause: str) -> None:
    """A port that hangs up at once, or answers noise: our certificate was never judged, so no "revoked"."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                if behaviour == "garbage":
                    conn.recv(4096)
                    conn.sendall(bytes(range(256)) * 2)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for bundle in (classroom.bundle.bundle_path, None):
            report = run(classroom, f"https://localhost:{listener.getsockname()[1]}/", bundle=bundle, timeout=5.0)
            step = report.failed_step
            assert step is not None and step.key == "handshake", report.to_text()
            assert cause in (step.cause or ""), report.to_text()
            assert "revoked" not in (step.cause or "") and "client certificate" not in (step.cause or "")
    finally:
        stop.set()
        thread.join(10)
        listener.close()
    assert not thread.is_alive()


def test_a_name_that_does_not_resolve(classroom: Classroom) -> None:
    report = run(classroom, "https://no-such-host.invalid/")  # .invalid never resolves (RFC 6761)
    step = report.steps[1]
    assert (step.key, step.status) == ("connect", Status.FAILED)
    assert step.cause == "The name no-such-host.invalid cannot be resolved to an address."


def test_proxy_and_ca_bundle_variables_cannot_make_another_server_trusted(
        site: DemoSite, classroom: Classroom, other_classroom: Classroom, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every CA-bundle variable at the site's CA and choose another CA: the site must still be untrusted."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(classroom.ca_cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(classroom.ca_cert.parent))
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    report = run(classroom, site.url, ca_cert=other_classroom.ca_cert)
    assert report.steps[2].status is Status.FAILED
    assert "not signed by the CA you chose" in (report.steps[2].cause or "")
    good = run(classroom, site.url)  # and the proxy variables are not used for the real test either
    assert good.ok, good.to_text()


def test_the_decrypted_key_never_touches_the_disk(site: DemoSite, classroom: Classroom, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's temporary files are watched while it runs: none may hold the key in clear."""
    from cryptography.hazmat.primitives import serialization

    from core.bundles import read_p12

    key = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD).key
    clear = [key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()),
             key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    written: list[bytes] = []
    real_write = Path.write_bytes

    def watching(self: Path, data: bytes) -> int:  # a spy: the file is still really written
        written.append(bytes(data))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", watching)
    report = run(classroom, site.url)
    assert report.ok, report.to_text()
    assert written, "the key went nowhere? the test no longer watches the right place"
    for data in written:
        assert not any(c in data for c in clear)
        assert b"ENCRYPTED" in data or b"PRIVATE KEY" not in data
    assert list(scratch.iterdir()) == []  # and nothing is left behind


# -- servers that misbehave on purpose: endless, dripping, or sending the password elsewhere --------------
class _OddHandler(http.server.BaseHTTPRequestHandler):
    mode = "endless"
    stopping = threading.Event()  # set at teardown: the dripping handler ends at once
    stolen: ClassVar[list[bytes]] = []
    elsewhere = ""

    def do_GET(self) -> None:
        if self.mode == "endless":  # a body that never ends
            self.send_response(200)
            self.end_headers()
            chunk = b"<p>" + b"x" * 65536
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:
                return
        if self.mode == "drip":  # headers one line a second: each read is quick, the answer never ends
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            try:
                for i in range(60):
                    self.wfile.write(f"X-Drip-{i}: 1\r\n".encode())
                    self.wfile.flush()
                    if self.stopping.wait(1):  # the server's own pace: a header a second
                        return
            except OSError:
                return
        page = (f'<form method="post" action="{self.elsewhere if self.mode == "form-elsewhere" else "/login"}">'
                '<input name="username"><input type="password" name="password"></form>').encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.mode == "redirect-elsewhere":
            self.send_response(307)  # 307: a client that follows it posts the same body again
            self.send_header("Location", self.elsewhere)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.stolen.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Catcher(http.server.BaseHTTPRequestHandler):
    """A plain-http listener: anything it receives went off the site."""

    def do_POST(self) -> None:
        _OddHandler.stolen.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def odd(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    ca, leaf, key = hostile_certificates("Odd Server", dns_names=["localhost"])
    pem = serialization.Encoding.PEM
    ca_file = tmp_path / "odd-ca.crt"
    ca_file.write_bytes(ca.public_bytes(pem))
    chain, key_file = tmp_path / "odd.crt", tmp_path / "odd.key"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key_file)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OddHandler)
    httpd.daemon_threads = True
    httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    catcher = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Catcher)
    _OddHandler.stolen = []
    _OddHandler.stopping.clear()
    _OddHandler.elsewhere = f"http://127.0.0.1:{catcher.server_address[1]}/steal"
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}) for s in (httpd, catcher)]
    for t in threads:
        t.start()
    yield f"https://localhost:{httpd.server_address[1]}/", ca_file
    _OddHandler.stopping.set()
    for s in (httpd, catcher):
        s.shutdown()
        s.server_close()
    for t in threads:
        t.join(timeout=30)


def test_an_endless_answer_is_read_only_so_far(classroom: Classroom, odd: tuple[str, Path], tmp_path: Path) -> None:
    """A body that never ends: read up to MAX_BODY (2 MiB), then judged as any page. Run as the CLI with its
    address space capped at 1 GiB, so reading it all would end in a memory failure, not in this diagnosis."""
    import resource

    _OddHandler.mode = "endless"
    url, ca = odd

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    out = subprocess.run([sys.executable, str(Path(__file__).parents[2] / "main.py"), "test", url, "--ca", str(ca),
                          "--timeout", "10", "--json"], capture_output=True, text=True, timeout=120, check=False,
                         preexec_fn=cap, stdin=subprocess.DEVNULL)
    assert out.returncode == 1, out.stderr[-2000:]
    step = json.loads(out.stdout)["steps"][3]
    assert (step["key"], step["status"]) == ("client-certificate", "failed")
    assert step["cause"] == "The server let us in without a client certificate: it does not require one."


def test_a_dripping_server_is_cut_off_at_the_step_s_deadline(classroom: Classroom, odd: tuple[str, Path]) -> None:
    _OddHandler.mode = "drip"
    url, ca = odd
    started = time.monotonic()
    report = run(classroom, url, ca_cert=ca, bundle=None, username=None, password=None, timeout=3.0)
    took = time.monotonic() - started
    step = report.steps[3]
    assert step.status is Status.FAILED and "did not finish answering within 3 s" in (step.cause or "")
    assert took < 30, took  # a deadline, not the drip's 60 s (a bound, not a speed target)


@pytest.mark.parametrize("mode", ["form-elsewhere", "redirect-elsewhere"])
def test_the_login_password_never_leaves_the_site(classroom: Classroom, odd: tuple[str, Path], mode: str) -> None:
    _OddHandler.mode = mode
    url, ca = odd
    report = run(classroom, url, ca_cert=ca, username="bob", password="the-login-secret", timeout=5.0)
    login = next(s for s in report.steps if s.key == "login")
    assert login.status is Status.FAILED and "was not sent there" in (login.cause or ""), report.to_text()
    assert not any(b"the-login-secret" in body for body in _OddHandler.stolen)
