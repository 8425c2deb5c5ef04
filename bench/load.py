"""Load on the demo site: many keep-alive clients with certificates, plus idle connections.

The site runs in its own process (as with ``python main.py serve``), the clients in
worker processes with threads, so the clients do not share the site's GIL. Each
client holds one keep-alive TLS connection and sends ``GET /`` in a loop.
Meanwhile 20 idle connections sit open: 10 finished their handshake and send
nothing, 10 are bare TCP that never start one (the front drops those after its
handshake timeout). Prints requests, errors and p50/p99 latency.

    .venv/bin/python bench/load.py [--clients 100] [--seconds 30] [--idle 20]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import multiprocessing.connection
import os
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASS = "bench bundle pass 1"
KEY_PASS = "bench key pass 1"


def make_workspace(root: Path) -> tuple[Path, Path, Path]:
    """A classroom workspace; returns the CA certificate and the student's PEM certificate and encrypted key."""
    from cryptography.hazmat.primitives import serialization

    from core.bundles import read_p12
    from core.workspace import Workspace

    ws = Workspace(root)
    authority = ws.create_ca(common_name="Bench CA", organization="Bench", passphrase="bench passphrase 1")
    ws.issue_server(authority)
    issued = ws.issue_client_bundle(authority, name="Load Student", password=PASS)
    ws.users.set_password("student", "student-pass-1")
    bundle = read_p12(issued.bundle_path, PASS)
    cert, key = root / "client.pem", root / "client.key"
    cert.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(bundle.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(KEY_PASS.encode())))
    os.chmod(key, 0o600)
    return ws.ca_cert_path, cert, key


def client_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.load_cert_chain(cert, key, password=KEY_PASS)
    return ctx


def run_site(root: str, pipe: multiprocessing.connection.Connection) -> None:
    """Child process: serve the workspace's site until told to stop; report the port and thread count."""
    import logging

    from core.workspace import Workspace
    from embedded_server.site import DemoSite, SiteConfig

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" under load is expected
    site = DemoSite(SiteConfig.from_workspace(Workspace(Path(root)), port=0))
    refused: list[str] = []
    site.events.subscribe(
        lambda e: refused.append(e.message) if e.kind in ("connection-refused", "connection-error") else None)
    site.start()
    pipe.send(site.address[1])
    pipe.recv()
    site.stop()
    pipe.send(refused)


def client_loop(port: int, ctx: ssl.SSLContext, deadline: float, latencies: list[float], errors: list[str],
                requests_limit: int | None = None) -> None:
    """One keep-alive client: GET / until the deadline (or ``requests_limit``), timing each request."""
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
    done = 0
    try:
        while time.monotonic() < deadline and (requests_limit is None or done < requests_limit):
            start = time.perf_counter()
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or b"CN=Load Student" not in body:
                    errors.append(f"HTTP {resp.status}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
            latencies.append(time.perf_counter() - start)
            done += 1
    finally:
        conn.close()


def worker(port: int, paths: tuple[str, str, str], threads: int, seconds: float,
           out: multiprocessing.connection.Connection) -> None:
    """Client process: ``threads`` keep-alive clients for ``seconds``."""
    ctx = client_context(*(Path(p) for p in paths))
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors: list[str] = []
    pool = [threading.Thread(target=client_loop, args=(port, ctx, deadline, latencies, errors))
            for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.send((latencies, errors))


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args()
    spawn = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        ca, cert, key = make_workspace(Path(tmp) / "ws")
        parent, child = spawn.Pipe()
        server = spawn.Process(target=run_site, args=(str(Path(tmp) / "ws"), child))
        server.start()
        port = parent.recv()
        ctx = client_context(ca, cert, key)
        idle: list[socket.socket] = []
        for i in range(args.idle):
            raw = socket.create_connection(("127.0.0.1", port))
            idle.append(ctx.wrap_socket(raw, server_hostname="localhost") if i % 2 == 0 else raw)
        per_process = [args.clients // args.processes + (i < args.clients % args.processes)
                       for i in range(args.processes)]
        pipes, procs = [], []
        for threads in per_process:
            mine, theirs = spawn.Pipe()
            proc = spawn.Process(target=worker, args=(port, (str(ca), str(cert), str(key)), threads,
                                                      args.seconds, theirs))
            proc.start()
            pipes.append(mine)
            procs.append(proc)
        started = time.monotonic()
        latencies: list[float] = []
        errors: list[str] = []
        for mine in pipes:
            got_latencies, got_errors = mine.recv()
            latencies += got_latencies
            errors += got_errors
        elapsed = time.monotonic() - started
        for proc in procs:
            proc.join()
        # The TLS idle connections must still be usable after the run.
        idle_ok = 0
        for s in idle[::2]:
            try:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                idle_ok += s.recv(12).startswith(b"HTTP/1.1 200")
            except OSError:
                pass
        for s in idle:
            s.close()
        parent.send("stop")
        refused = parent.recv()
        server.join()
    print(f"clients {args.clients} keep-alive + {args.idle} idle ({args.idle - args.idle // 2} after the "
          f"handshake, {args.idle // 2} bare TCP) for {args.seconds:.0f} s")
    print(f"requests {len(latencies)}  ({len(latencies) / elapsed:.0f}/s)  errors {len(errors)}  "
          f"connections the site refused {len(refused)} {sorted(set(refused))} (the bare TCP ones time out)")
    if errors:
        print("first errors:", sorted(set(errors))[:5])
    print(f"latency p50 {percentile(latencies, 50) * 1000:.1f} ms  p99 {percentile(latencies, 99) * 1000:.1f} ms  "
          f"max {max(latencies) * 1000:.1f} ms")
    print(f"idle TLS connections still served afterwards: {idle_ok}/{len(idle[::2])}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
