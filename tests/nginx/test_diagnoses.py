"""Every failure kind Test Connection names, against our demo site AND Debian nginx, with the same diagnosis.

nginx (``ssl_verify_client on``) behaves unlike our site: it completes the handshake whatever client
certificate it gets and answers an HTTP 400 page ("No required SSL certificate was sent", "The SSL
certificate error"), and it has no login. The diagnosis a student reads must still be the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from core.connection_test import ConnectionReport, ConnectionTestInput, Status, run_connection_test
from core.keys import KeyType, generate_private_key
from core.profiles import CertificateRequest, Kind, build_certificate, make_name, parse_hosts
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom
from tests.nginx.conftest import StartNginx
from tests.server.test_refusals import make_cert_files

SERVERS = ["site", "nginx"]


@contextlib.contextmanager
def serving(kind: str, room: Classroom, start_nginx: StartNginx, *, cert: Path | None = None,
            key: Path | None = None, key_pass: Path | None = None,
            nginx_crl: bool = True) -> Iterator[tuple[str, int]]:
    """Our site or nginx for ``room``'s CA; yields (https URL, a plain-http port on the same host)."""
    ws = room.workspace
    cert = cert or ws.server_cert_path
    key = key or ws.server_key_path
    key_pass = key_pass or ws.server_key_pass_path
    if kind == "nginx":
        n = start_nginx(cert=cert, key=key, key_pass=key_pass, ca=ws.ca_cert_path,
                        crl=ws.crl_pem_path if nginx_crl else None)
        yield n.url, n.plain_port
        return
    site = DemoSite(SiteConfig(server_cert=cert, server_key=key, server_key_password=key_pass.read_text().strip(),
                               ca_cert=ws.ca_cert_path, users_file=ws.users_path, crl=ws.crl_pem_path))
    site.start()
    try:
        yield f"https://localhost:{site.address[1]}/", site.backend_address[1]
    finally:
        site.stop()


def run(room: Classroom, url: str, **overrides: object) -> ConnectionReport:
    values: dict[str, object] = {
        "url": url, "ca_cert": room.ca_cert, "bundle": room.bundle.bundle_path, "bundle_password": BUNDLE_PASSWORD,
        "username": LOGIN_USER, "password": LOGIN_PASSWORD, "timeout": 15.0,
    }
    values.update(overrides)
    return run_connection_test(ConnectionTestInput(**values))  # type: ignore[arg-type]


def failed(report: ConnectionReport, *steps: str) -> str:
    step = report.failed_step
    assert step is not None, report.to_text()
    assert step.key in steps, report.to_text()
    assert step.fix, report.to_text()
    return step.cause or ""


def server_identity(room: Classroom, tmp_path: Path, *, hosts: list[str], issued_days_ago: int = 0,
                    valid_days: int = 30) -> tuple[Path, Path, Path]:
    """A server certificate from ``room``'s CA, its encrypted key and the key's password file."""
    key = generate_private_key(KeyType.EC_P256)
    request = CertificateRequest(kind=Kind.SERVER, subject=make_name(hosts[0]), public_key=key.public_key(),
                                 valid_days=valid_days, san=parse_hosts(hosts))
    cert = build_certificate(request, issuer_cert=room.authority.certificate, issuer_key=room.authority.key,
                             now=dt.datetime.now(dt.UTC) - dt.timedelta(days=issued_days_ago))
    paths = tmp_path / "srv.crt", tmp_path / "srv.key", tmp_path / "srv.pass"
    paths[0].write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                         + room.authority.certificate.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"server-key-pass")))
    paths[1].chmod(0o600)
    paths[2].write_text("server-key-pass\n")
    return paths


@pytest.mark.parametrize("server", SERVERS)
def test_success(server: str, classroom: Classroom, start_nginx: StartNginx) -> None:
    with serving(server, classroom, start_nginx) as (url, _):
        report = run(classroom, url)
    assert report.ok, report.to_text()
    hs = report.steps[2].facts
    assert hs["client certificate requested"] == "yes"
    assert hs["client certificate sent"] == "yes (CN=Ada Lovelace,O=Tests)"
    if server == "nginx":
        # nginx sends the names of the CAs it accepts; it has no login: skipped, not failed.
        assert hs["CA names the server accepts"] == "CN=Test Classroom CA,O=Tests"
        assert [s.status for s in report.steps[4:]] == [Status.SKIPPED, Status.SKIPPED]
        assert "no login form" in (report.steps[4].cause or "")
        assert report.steps[3].facts["server software"].startswith("nginx")
    else:
        assert [s.status for s in report.steps] == [Status.OK] * 6


@pytest.mark.parametrize("server", SERVERS)
def test_plain_http_port(server: str, classroom: Classroom, start_nginx: StartNginx) -> None:
    with serving(server, classroom, start_nginx) as (_, plain_port):
        # waitress waits for more than a ClientHello; the short timeout keeps the test quick.
        report = run(classroom, f"https://localhost:{plain_port}/", timeout=3.0)
    assert "plain http" in failed(report, "handshake")
    assert report.steps[2].facts["plain http answer"].startswith("HTTP/1.")


@pytest.mark.parametrize("server", SERVERS)
def test_server_certificate_from_unknown_ca(server: str, classroom: Classroom, other_classroom: Classroom,
                                            start_nginx: StartNginx) -> None:
    with serving(server, classroom, start_nginx) as (url, _):
        report = run(classroom, url, ca_cert=other_classroom.ca_cert)
    assert "not signed by the CA you chose" in failed(report, "handshake")
    assert report.steps[2].facts["server certificate"] == "CN=localhost"


@pytest.mark.parametrize("server", SERVERS)
def test_host_not_in_subject_alt_name(server: str, classroom: Classroom, start_nginx: StartNginx,
                                      tmp_path: Path) -> None:
    cert, key, key_pass = server_identity(classroom, tmp_path, hosts=["127.0.0.1"])
    with serving(server, classroom, start_nginx, cert=cert, key=key, key_pass=key_pass) as (url, _):
        report = run(classroom, url)  # https://localhost:... while the certificate names only 127.0.0.1
    assert "not made out for localhost" in failed(report, "handshake")
    assert report.steps[2].facts["server names (subjectAltName)"] == "127.0.0.1"
    assert report.steps[2].facts["host matched"] == "localhost: no"


@pytest.mark.parametrize("server", SERVERS)
def test_server_certificate_expired(server: str, classroom: Classroom, start_nginx: StartNginx,
                                    tmp_path: Path) -> None:
    cert, key, key_pass = server_identity(classroom, tmp_path, hosts=["localhost", "127.0.0.1"],
                                          issued_days_ago=40, valid_days=30)
    with serving(server, classroom, start_nginx, cert=cert, key=key, key_pass=key_pass) as (url, _):
        report = run(classroom, url)
    assert "server's certificate has expired" in failed(report, "handshake")


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("server", SERVERS)
def test_no_client_certificate_sent(server: str, version: str, classroom: Classroom,
                                    start_nginx: StartNginx) -> None:
    with serving(server, classroom, start_nginx) as (url, _):
        report = run(classroom, url, bundle=None, tls_version=version)
    # Our site refuses in the TLS 1.2 handshake or on the first read under 1.3; nginx answers a 400 page.
    assert "none was sent" in failed(report, "handshake", "client-certificate")
    if server == "site" and version == "1.3":  # the handshake succeeds; the refusal comes on the first read
        assert report.steps[2].status is Status.OK
        assert "first read" in report.steps[3].facts["refused"]
    if server == "nginx":
        assert report.steps[3].facts["server said"] == "400 No required SSL certificate was sent"
    hs = report.steps[2].facts
    assert hs["client certificate requested"] == "yes"
    assert hs["client certificate sent"] == "no"


@pytest.mark.parametrize("server", SERVERS)
def test_client_certificate_from_another_ca(server: str, classroom: Classroom, other_classroom: Classroom,
                                            start_nginx: StartNginx) -> None:
    with serving(server, classroom, start_nginx) as (url, _):
        report = run(classroom, url, bundle=other_classroom.bundle.bundle_path)
    assert "another CA" in failed(report, "handshake", "client-certificate")
    assert report.steps[0].facts["chains to the chosen CA"].startswith("no")


@pytest.mark.parametrize("server", SERVERS)
def test_client_certificate_revoked(server: str, start_nginx: StartNginx, tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    room.workspace.revoke(room.authority, "Ada Lovelace", reason="keyCompromise")
    with serving(server, room, start_nginx) as (url, _):
        report = run(room, url)
    assert "revoked" in failed(report, "handshake", "client-certificate")


@pytest.mark.parametrize(("kind", "ago", "days", "cause"), [
    # Our site's alert names it; nginx's 400 page does not, so the cause comes from our own check. Either way
    # it is *our* certificate that expired, never "the server's certificate has expired".
    pytest.param(Kind.CLIENT, 30, 10, ("refused your client certificate because it has expired",
                                       "your certificate has expired"), id="expired-client"),
    pytest.param(Kind.SERVER, 0, 10, ("not a client certificate",), id="server-cert-as-client"),
])
@pytest.mark.parametrize("server", SERVERS)
def test_refused_client_certificate(server: str, kind: Kind, ago: int, days: int, cause: tuple[str, ...],
                                    classroom: Classroom, start_nginx: StartNginx, tmp_path: Path) -> None:
    _, _, p12 = make_cert_files(classroom, tmp_path, kind=kind, issued_days_ago=ago, valid_days=days)
    with serving(server, classroom, start_nginx) as (url, _):
        report = run(classroom, url, bundle=p12)
    said = failed(report, "handshake", "client-certificate")
    assert any(c in said for c in cause), said
    assert "server's certificate" not in said
    assert "warning" in report.steps[0].facts  # the bundle step already saw it


@pytest.mark.parametrize("server", SERVERS)
def test_pem_certificate_and_key_accepted(server: str, classroom: Classroom, start_nginx: StartNginx,
                                          tmp_path: Path) -> None:
    cert, key, _ = make_cert_files(classroom, tmp_path, kind=Kind.CLIENT, issued_days_ago=0, valid_days=10)
    with serving(server, classroom, start_nginx) as (url, _):
        report = run(classroom, url, bundle=cert, key_file=key)
    assert report.steps[3].status is Status.OK, report.to_text()
    assert report.steps[0].facts["subject"] == "CN=Mallory,O=Tests"


def test_cli_against_nginx_names_the_failed_step(classroom: Classroom, other_classroom: Classroom,
                                                 start_nginx: StartNginx) -> None:
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSLAB_")}
    env["MTLSLAB_BUNDLE_PASSWORD"] = BUNDLE_PASSWORD
    with serving("nginx", classroom, start_nginx) as (url, _):
        def test(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, str(root / "main.py"), "test", url, "--ca", str(classroom.ca_cert),
                                   *args], capture_output=True, text=True, env=env, cwd=root, timeout=120,
                                  stdin=subprocess.DEVNULL, check=False)

        good = test("--bundle", str(classroom.bundle.bundle_path), "--tls", "1.2")
        bad = test("--bundle", str(other_classroom.bundle.bundle_path))
        none = test("--json")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "[skip] Login accepted" in good.stdout and "protocol: TLSv1.2" in good.stdout
    assert bad.returncode == 1 and "failed step: client-certificate" in bad.stderr
    assert "another CA" in bad.stdout
    data = json.loads(none.stdout)
    assert none.returncode == 1 and data["ok"] is False
    assert data["steps"][0]["status"] == "skipped" and "none was sent" in data["steps"][3]["cause"]


@pytest.mark.parametrize("server", SERVERS)
def test_intermediate_ca_workspace(server: str, start_nginx: StartNginx, tmp_path: Path) -> None:
    """ca.crt holds the intermediate and the root: trusted as a whole, the bundle chains to it."""
    from core.workspace import Workspace
    from tests.conftest import CA_PASSPHRASE

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Issuing CA", organization="Tests", passphrase=CA_PASSPHRASE,
                             intermediate=True)
    ws.issue_server(authority)
    bundle = ws.issue_client_bundle(authority, name="Ada Lovelace", password=BUNDLE_PASSWORD)
    ws.users.set_password(LOGIN_USER, LOGIN_PASSWORD)
    room = Classroom(ws, authority, bundle)
    # nginx's ssl_crl checks every CA on the path (CRL_CHECK_ALL): crl.pem carries the root's CRL too.
    with serving(server, room, start_nginx) as (url, _):
        report = run(room, url)
    assert report.ok, report.to_text()
    assert report.steps[0].facts["chains to the chosen CA"] == "yes"
    assert "chain certificate 1" in report.steps[2].facts
