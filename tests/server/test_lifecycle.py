"""The site over time: handshake deadlines, certificates and CA reloaded while it runs, its event log file."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509

from embedded_server.events import Event
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import CA_PASSPHRASE, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom
from tests.server.test_load import client_context
from tests.server.test_site import curl


@pytest.fixture
def room(tmp_path: Path) -> Classroom:
    """A classroom of its own: these tests replace its certificates."""
    return make_classroom(tmp_path / "room")


def started(config: SiteConfig) -> DemoSite:
    site = DemoSite(config)
    site.start()
    return site


@pytest.fixture
def running(room: Classroom) -> Iterator[DemoSite]:
    site = started(SiteConfig.from_workspace(room.workspace))
    yield site
    site.stop()


def client_hello() -> bytes:
    """A real TLS ClientHello, as the first flight of a Python client."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def served_certificate(site: DemoSite, room: Classroom, tmp_path: Path) -> x509.Certificate:
    """The server certificate a new connection with the student's bundle sees."""
    ctx = client_context(room, tmp_path)
    with socket.create_connection(site.address, timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)


def kinds(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.kind == kind]


def test_silent_and_dripping_clients_are_closed_at_the_deadline_and_delay_nobody(room: Classroom,
                                                                                   tmp_path: Path) -> None:
    site = started(replace(SiteConfig.from_workspace(room.workspace), handshake_timeout=1.5))
    hello = client_hello()
    stop = threading.Event()
    silent = socket.create_connection(site.address, timeout=10)
    drip = socket.create_connection(site.address, timeout=10)

    def trickle() -> None:
        # One byte every 0.2 s: each read arrives well inside any per-read timeout, so only a
        # deadline for the whole handshake ends this (the ClientHello alone would take a minute).
        for byte in hello:
            if stop.wait(0.2):
                return
            try:
                drip.send(bytes([byte]))
            except OSError:
                return

    dripper = threading.Thread(target=trickle)
    dripper.start()
    try:
        student = curl(site, room, tmp_path, "--max-time", "5", site.url, bundle=room.bundle.bundle_path)
        assert student.returncode == 0, student.stderr
        assert "CN=Ada Lovelace" in student.stdout
        # Both are closed by the site (recv gives EOF) long before our own 10 s socket timeout.
        assert silent.recv(1) == b""
        with contextlib.suppress(ConnectionResetError):  # closed with bytes of ours unread: closed by the site too
            assert drip.recv(1) == b""
        assert len(hello) > 100  # so the dripper really was still sending when it was cut off
        timed_out = [e for e in kinds(site.events.recent(), "connection-refused")
                     if e.message == "handshake timed out"]
        assert len(timed_out) == 2, [e.message for e in site.events.recent()]
    finally:
        stop.set()
        dripper.join(5)
        silent.close()
        drip.close()
        site.stop()
    assert not dripper.is_alive()


def test_a_new_server_certificate_is_served_without_a_restart(running: DemoSite, room: Classroom,
                                                              tmp_path: Path) -> None:
    before = served_certificate(running, room, tmp_path)
    new = room.workspace.issue_server(room.workspace.load_ca(CA_PASSPHRASE))
    assert new.serial_number != before.serial_number
    after = served_certificate(running, room, tmp_path)
    assert after.serial_number == new.serial_number
    assert kinds(running.events.recent(), "reloaded")
    assert not kinds(running.events.recent(), "reload-failed")


def test_a_replaced_ca_applies_to_the_next_connection_and_a_broken_one_is_not_taken(
        room: Classroom, other_classroom: Classroom, tmp_path: Path) -> None:
    ca_file = tmp_path / "trusted-ca.crt"
    shutil.copyfile(room.ca_cert, ca_file)
    site = started(replace(SiteConfig.from_workspace(room.workspace), ca_cert=ca_file, crl=None))
    try:
        ours, theirs = room.bundle.bundle_path, other_classroom.bundle.bundle_path
        assert curl(site, room, tmp_path, site.url, bundle=ours).returncode == 0
        assert curl(site, room, tmp_path, site.url, bundle=theirs).returncode != 0

        staged = tmp_path / "staged.crt"  # replaced atomically, as the workspace writes files
        shutil.copyfile(other_classroom.ca_cert, staged)
        staged.replace(ca_file)
        theirs_now = curl(site, room, tmp_path, site.url, bundle=theirs)
        assert theirs_now.returncode == 0, theirs_now.stderr
        assert "CN=Eve" in theirs_now.stdout
        assert curl(site, room, tmp_path, site.url, bundle=ours).returncode != 0

        staged.write_text("this is not a certificate\n")
        staged.replace(ca_file)
        still = curl(site, room, tmp_path, site.url, bundle=theirs)
        assert still.returncode == 0, still.stderr  # the last CA that loaded keeps serving
        failed = kinds(site.events.recent(), "reload-failed")
        assert failed and "does not load" in failed[-1].message
    finally:
        site.stop()


def test_the_workspace_event_log_file_records_connections_logins_and_pages(running: DemoSite, room: Classroom,
                                                                           tmp_path: Path) -> None:
    home = curl(running, room, tmp_path, running.url, bundle=room.bundle.bundle_path)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert token is not None
    curl(running, room, tmp_path, "-L", "-d", f"csrf={token.group(1)}", "-d", f"username={LOGIN_USER}",
         "-d", f"password={LOGIN_PASSWORD}", running.url + "login", bundle=room.bundle.bundle_path)
    curl(running, room, tmp_path, running.url)  # no certificate: refused
    path = room.workspace.site_dir() / "events.jsonl"
    assert path.stat().st_mode & 0o077 == 0  # it names students: owner-only
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    by_kind: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_kind.setdefault(str(line["kind"]), []).append(line)
    assert any(e.get("subject") == "CN=Ada Lovelace,O=Tests" for e in by_kind["connection-accepted"])
    assert any("ada" in str(e["message"]) for e in by_kind["login-ok"])
    assert {str(e["message"]) for e in by_kind["page"]} >= {"/", "/user"}
    assert any(e["message"] == "no client certificate" for e in by_kind["connection-refused"])
    assert all("time" in e for e in lines)


def test_hundreds_of_open_connections_are_all_served(running: DemoSite, room: Classroom, tmp_path: Path) -> None:
    """400 keep-alive connections at once: this process then holds about 1,600 descriptors (each
    connection has the client's socket here, the front's, its link to waitress and waitress's end),
    past the 1,024 that select() can watch."""
    ctx = client_context(room, tmp_path)
    conns: list[ssl.SSLSocket] = []
    try:
        for i in range(400):
            # Two source addresses: one address may hold only half of the site's connections.
            raw = socket.create_connection(running.address, timeout=20, source_address=(f"127.0.0.{2 + i % 2}", 0))
            conns.append(ctx.wrap_socket(raw, server_hostname="localhost"))
        for tls in conns:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for tls in conns:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = tls.recv(65536)
                assert chunk, "connection closed before the response"
                head += chunk
            assert head.startswith(b"HTTP/1.1 200 "), head[:200]
        assert max(int(fd) for fd in os.listdir("/proc/self/fd")) > 1024  # the point of this test
        assert not kinds(running.events.recent(), "connection-error")
    finally:
        for tls in conns:
            with contextlib.suppress(OSError):
                tls.close()


def test_a_damaged_login_file_is_said_plainly_to_the_student_the_tester_and_at_start(
        running: DemoSite, room: Classroom, tmp_path: Path) -> None:
    from core.connection_test import ConnectionTestInput, run_connection_test
    from embedded_server.site import SiteError
    from tests.conftest import BUNDLE_PASSWORD

    room.workspace.users_path.write_text('{"users": [truncated', encoding="utf-8")
    report = run_connection_test(ConnectionTestInput(
        url=running.url, ca_cert=room.ca_cert, bundle=room.bundle.bundle_path, bundle_password=BUNDLE_PASSWORD,
        username=LOGIN_USER, password=LOGIN_PASSWORD))
    login = report.steps[4]
    assert login.key == "login" and "could not check the login (HTTP 503)" in (login.cause or "")
    home = curl(running, room, tmp_path, running.url, bundle=room.bundle.bundle_path)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert token is not None
    page = curl(running, room, tmp_path, "-d", f"csrf={token.group(1)}", "-d", "username=ada", "-d", "password=x",
                running.url + "login", bundle=room.bundle.bundle_path)
    assert "list of logins is damaged" in page.stdout and "Traceback" not in page.stdout
    assert kinds(running.events.recent(), "login-unavailable")
    assert not kinds(running.events.recent(), "error")
    with pytest.raises(SiteError, match="damaged"):
        DemoSite(SiteConfig.from_workspace(room.workspace)).start()
