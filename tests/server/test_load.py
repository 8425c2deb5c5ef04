"""A short load run and a start/stop leak check. The 30-second, 100-client figures come from bench/load.py."""

from __future__ import annotations

import os
import socket
import ssl
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from core.bundles import read_p12
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, Classroom


def client_context(classroom: Classroom, tmp_path: Path) -> ssl.SSLContext:
    bundle = read_p12(classroom.bundle.bundle_path, BUNDLE_PASSWORD)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(bundle.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(b"temp-pass")))
    ctx = ssl.create_default_context(cafile=str(classroom.ca_cert))
    ctx.load_cert_chain(cert, key, password="temp-pass")
    return ctx


def test_20_keep_alive_clients_with_idle_connections_get_no_errors(site: DemoSite, classroom: Classroom,
                                                                     tmp_path: Path) -> None:
    import http.client

    ctx = client_context(classroom, tmp_path)
    port = site.address[1]
    errors: list[str] = []
    served: list[int] = []

    def client() -> None:
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
        try:
            for _ in range(20):
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or b"CN=Ada Lovelace" not in body:
                    errors.append(f"HTTP {resp.status}")
                served.append(1)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
        finally:
            conn.close()

    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]  # bare TCP, no handshake
    idle += [ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
             for _ in range(5)]  # handshake done, then silence
    try:
        clients = [threading.Thread(target=client) for _ in range(20)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(120)
        assert not any(t.is_alive() for t in clients)
    finally:
        for s in idle:
            s.close()
    assert errors == []
    assert len(served) == 400


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_start_stop_50_times_leaks_no_thread_port_or_descriptor(classroom: Classroom) -> None:
    site = DemoSite(SiteConfig.from_workspace(classroom.workspace, port=0))
    site.start()  # the first start loads modules and templates; count from after it
    site.stop()
    threads_before = set(threading.enumerate())
    fds_before = _open_fds()
    ports: list[tuple[int, int]] = []
    for _ in range(50):
        site.start()
        ports.append((site.address[1], site.backend_address[1]))
        site.stop()
    assert set(threading.enumerate()) == threads_before
    leaked = _open_fds() - fds_before
    assert not leaked, {fd: _describe(fd) for fd in leaked}
    for front, backend in ports[-5:]:
        for port in (front, backend):  # nobody listens there any more
            with socket.socket() as probe:
                probe.settimeout(5)
                assert probe.connect_ex(("127.0.0.1", port)) != 0
    # The last front port can be bound again at once: the listener is really closed.
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", ports[-1][0]))


def _describe(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


