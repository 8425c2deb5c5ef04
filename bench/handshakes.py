"""New mutual-TLS handshakes per second: the demo site's front against nginx, same certificates.

Both servers get the same throwaway workspace (CA, server certificate, one student):
the site runs in its own process as with ``python main.py serve``; nginx (Debian
nginx-light) runs one worker with ``ssl_verify_client on``. ``openssl s_time -new``
opens a fresh connection with the client certificate for every handshake, for TLS 1.2
and TLS 1.3. Prints the rates and the site/nginx ratio (target: at least 0.7).

The site checks every client certificate against the workspace's CRL (``VERIFY_CRL_CHECK_LEAF``:
OpenSSL looks the CRL up and checks its signature on each handshake), so the like-for-like nginx
has ``ssl_crl`` with the same CRL. nginx without a CRL (less work: revocation unchecked) is
measured too, for reference.

    .venv/bin/python bench/handshakes.py [--time 10]

``openssl s_time`` cannot take a key password, so the throwaway student's key is
written unencrypted for the run, in a private (0700) temporary directory that is
deleted at the end. It belongs to a CA that exists only during the run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives import serialization
from load import KEY_PASS, make_workspace, run_site

NGINX_CONF = """\
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {server_cert};
        ssl_certificate_key {server_key};
        ssl_password_file {key_pass};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        {crl_line}
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, deadline: float) -> None:
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on port {port}")
        time.sleep(0.05)


def s_time(port: int, ca: Path, cert: Path, key: Path, version: str, seconds: int) -> float:
    """Handshakes per wall-clock second."""
    out = subprocess.run(
        [shutil.which("openssl") or "openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-cert", str(cert),
         "-key", str(key), "-CAfile", str(ca), "-new", "-time", str(seconds), version],
        capture_output=True, text=True, timeout=seconds + 60, check=False, stdin=subprocess.DEVNULL)
    found = re.search(r"(\d+) connections in (\d+) real seconds", out.stdout)
    if found is None or int(found.group(1)) == 0:
        raise RuntimeError(f"s_time failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    return int(found.group(1)) / max(int(found.group(2)), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=int, default=10, help="seconds per measurement (default 10)")
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    spawn = mp.get_context("spawn")
    results: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o700)
        root = tmp / "ws"
        ca, cert, encrypted_key = make_workspace(root)
        key = tmp / "client-plain.key"
        plain = serialization.load_pem_private_key(encrypted_key.read_bytes(), KEY_PASS.encode())
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(plain.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))

        parent, child = spawn.Pipe()
        site = spawn.Process(target=run_site, args=(str(root), child))
        site.start()
        site_port = parent.recv()
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        for name, crl_line in (("nginx", f"ssl_crl {root / 'ca' / 'crl.pem'};"), ("nginx-no-crl", "")):
            prefix = tmp / name
            prefix.mkdir()
            port = free_port()
            (prefix / "nginx.conf").write_text(NGINX_CONF.format(
                tmp=prefix, port=port, server_cert=root / "server" / "server.crt",
                server_key=root / "server" / "server.key", key_pass=root / "secrets" / "server-key.pass", ca=ca,
                crl_line=crl_line))
            servers[name] = (subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                                               "-g", "daemon off;"],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), port)
        try:
            for _proc, port in servers.values():
                wait_listening(port, time.monotonic() + 10)
            for version in ("-tls1_2", "-tls1_3"):
                results[("site", version)] = s_time(site_port, ca, cert, key, version, args.time)
                for name, (_proc, port) in servers.items():
                    results[(name, version)] = s_time(port, ca, cert, key, version, args.time)
        finally:
            for proc, _port in servers.values():
                proc.terminate()
                proc.wait(10)
            parent.send("stop")
            parent.recv()
            site.join()
    print(f"new mutual-TLS handshakes per second (openssl s_time -new, {args.time} s each, one nginx worker)")
    print(f"{'':8} {'site':>8} {'nginx':>8} {'ratio':>6}   {'nginx, no CRL':>14} {'ratio':>6}")
    for version in ("-tls1_2", "-tls1_3"):
        ours, theirs, bare = (results[(n, version)] for n in ("site", "nginx", "nginx-no-crl"))
        print(f"{version[1:]:8} {ours:8.0f} {theirs:8.0f} {ours / theirs:6.2f}   {bare:14.0f} {ours / bare:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
