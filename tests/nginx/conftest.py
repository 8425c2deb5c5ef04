"""Debian nginx with ssl_verify_client on, started by the test on a loopback port, for Test Connection."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NGINX = "/usr/sbin/nginx"

CONF = """\
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        # nginx 1.22's default leaves TLS 1.3 out (it joined the default in 1.23.4).
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_password_file {key_pass};
        ssl_client_certificate {ca};
        ssl_verify_client on;
        {crl_line}
        location / {{ default_type text/plain; return 200 "Hello from nginx, $ssl_client_s_dn\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{plain_port};
        location / {{ default_type text/plain; return 200 "plain http\\n"; }}
    }}
}}
"""


@dataclass
class Nginx:
    port: int
    plain_port: int
    error_log: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[bytes], ports: tuple[int, ...], log: Path, deadline: float) -> None:
    pending = list(ports)
    while pending:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text() if log.exists() else proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", pending[0]), timeout=1).close()
            pending.pop(0)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("nginx did not start listening within 20 s") from None
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.05)  # a short wait on the child doubles as the poll interval


StartNginx = Callable[..., Nginx]


@pytest.fixture
def start_nginx(tmp_path: Path) -> Iterator[StartNginx]:
    """Start nginx with a server certificate and a client CA; every nginx started is stopped (and waited for)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*, cert: Path, key: Path, key_pass: Path, ca: Path, crl: Path | None = None) -> Nginx:
        d = tmp_path / f"nginx{len(procs)}"
        d.mkdir()
        port, plain = _free_port(), _free_port()
        crl_line = f"ssl_crl {crl};" if crl is not None else ""
        (d / "nginx.conf").write_text(CONF.format(d=d, port=port, plain_port=plain, cert=cert, key=key,
                                                  key_pass=key_pass, ca=ca, crl_line=crl_line))
        proc = subprocess.Popen([NGINX, "-p", str(d), "-c", str(d / "nginx.conf"), "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        _wait_listening(proc, (port, plain), d / "error.log", time.monotonic() + 20)
        return Nginx(port, plain, d / "error.log")

    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed; scripts/setup.sh installs nginx-light")
    yield start
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=15)
        assert proc.returncode is not None
