"""The issue's test matrix over real loopback TLS: every case in both TLS versions and both modes,
each with its exact outcome; handshake refusals read with openssl s_client."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from core.bundles import read_p12
from core.profiles import Kind
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom, need
from tests.server.test_refusals import make_cert_files
from tests.server.test_site import curl

VERSIONS = {"1.2": ("-tls1_2", ("--tlsv1.2", "--tls-max", "1.2")), "1.3": ("-tls1_3", ("--tlsv1.3",))}


@dataclass
class Room:
    """A classroom with every kind of client the site meets: good, revoked, expired, a server cert, another CA."""

    classroom: Classroom
    tmp: Path
    good: tuple[Path, Path, Path]  # cert, key, p12
    second: Path  # another valid student's p12 (same CA)
    revoked: tuple[Path, Path]
    expired: tuple[Path, Path]
    server_cert: tuple[Path, Path]
    other_ca: tuple[Path, Path]
    password_file: Path


def _pem_pair(p12: Path, out: Path) -> tuple[Path, Path]:
    bundle = read_p12(p12, BUNDLE_PASSWORD)
    out.mkdir()
    cert, key = out / "c.pem", out / "k.pem"
    cert.write_bytes(bundle.certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(bundle.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(BUNDLE_PASSWORD.encode())))
    return cert, key


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory, other_classroom: Classroom) -> Room:
    tmp = tmp_path_factory.mktemp("matrix")
    classroom = make_classroom(tmp / "ws")
    ws, ca = classroom.workspace, classroom.authority
    second = ws.issue_client_bundle(ca, name="Grace Hopper", password=BUNDLE_PASSWORD).bundle_path
    mallory = ws.issue_client_bundle(ca, name="Revoked Student", password=BUNDLE_PASSWORD).bundle_path
    ws.revoke(ca, "Revoked Student", reason="keyCompromise")
    (tmp / "expired").mkdir()
    (tmp / "server").mkdir()
    expired = make_cert_files(classroom, tmp / "expired", kind=Kind.CLIENT, issued_days_ago=30, valid_days=10)
    server = make_cert_files(classroom, tmp / "server", kind=Kind.SERVER, issued_days_ago=0, valid_days=10)
    password_file = tmp / "pw"
    password_file.write_text(BUNDLE_PASSWORD)
    good = _pem_pair(classroom.bundle.bundle_path, tmp / "good")
    return Room(classroom, tmp, (*good, classroom.bundle.bundle_path), second, _pem_pair(mallory, tmp / "revoked"),
                expired[:2], server[:2], _pem_pair(other_classroom.bundle.bundle_path, tmp / "other"), password_file)


@pytest.fixture(params=["strict", "friendly"])
def site(request: pytest.FixtureRequest, room: Room) -> Iterator[DemoSite]:
    site = DemoSite(SiteConfig.from_workspace(room.classroom.workspace, port=0, mode=request.param))
    site.start()
    yield site
    site.stop()


@pytest.fixture(params=sorted(VERSIONS))
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def s_client(site: DemoSite, room: Room, version: str, pair: tuple[Path, Path] | None = None) -> str:
    args = [need("openssl"), "s_client", "-connect", f"127.0.0.1:{site.address[1]}", "-CAfile",
            str(room.classroom.ca_cert), "-ign_eof", VERSIONS[version][0]]
    if pair is not None:
        args += ["-cert", str(pair[0]), "-key", str(pair[1]), "-pass", f"file:{room.password_file}"]
    out = subprocess.run(args, input=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n", capture_output=True, timeout=30,
                         check=False)
    return (out.stdout + out.stderr).decode(errors="replace")


def curl_v(site: DemoSite, room: Room, version: str, jar: Path, *args: str, bundle: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    return curl(site, room.classroom, jar, *VERSIONS[version][1], *args, bundle=bundle)


def refusals(site: DemoSite) -> list[str]:
    return [e.message for e in site.events.recent() if e.kind == "connection-refused"]


def test_valid_certificate_gets_in(site: DemoSite, room: Room, version: str) -> None:
    text = s_client(site, room, version, room.good[:2])
    assert "HTTP/1.0 200 OK" in text
    assert "CN=Ada Lovelace" in text
    assert f"Protocol  : TLSv{version}" in text or f"TLSv{version}" in text


def test_no_certificate(site: DemoSite, room: Room, version: str) -> None:
    text = s_client(site, room, version)
    if site.config.mode == "strict":
        alert = {"1.2": "alert handshake failure", "1.3": "alert certificate required"}[version]
        assert alert in text
        assert "HTTP/1.0" not in text
        assert "no client certificate" in refusals(site)
    else:
        assert "HTTP/1.0 403" in text
        assert "Your browser sent no certificate" in text
        assert "alert" not in text


@pytest.mark.parametrize(("client", "alert", "reason"), [
    ("other_ca", "alert unknown ca", "client certificate from an unknown CA"),
    ("expired", "alert certificate expired", "client certificate expired"),
    ("revoked", "alert certificate revoked", "client certificate revoked"),
    ("server_cert", "alert unsupported certificate", "certificate not made for client authentication"),
])
def test_bad_certificate_refused_in_the_handshake(site: DemoSite, room: Room, version: str, client: str, alert: str,
                                                  reason: str) -> None:
    text = s_client(site, room, version, getattr(room, client))
    assert alert in text
    assert "HTTP/1.0" not in text
    assert reason in refusals(site)


def test_forged_identity_headers(site: DemoSite, room: Room, version: str, tmp_path: Path) -> None:
    out = curl_v(site, room, version, tmp_path, "-H", "SSL-Client-S-DN: CN=Admin", "-H", "X-SSL-Client-S-DN: CN=Admin",
                 "-H", "X-Client-Cert: CN=Admin", "-H", "SSL-Client-Verify: SUCCESS", site.url,
                 bundle=room.good[2])
    assert out.returncode == 0, out.stderr
    assert "CN=Ada Lovelace" in out.stdout
    assert "CN=Admin" not in out.stdout


def test_direct_hit_on_waitress(site: DemoSite, version: str) -> None:
    host, port = site.backend_address
    resp = requests.get(f"http://{host}:{port}/user", headers={"SSL-Client-S-DN": "CN=Ada Lovelace,O=Tests"},
                        timeout=10, allow_redirects=False)
    assert resp.status_code == 403
    assert "No verified client certificate" in resp.text


def _csrf(site: DemoSite, room: Room, version: str, jar: Path, bundle: Path) -> str:
    home = curl_v(site, room, version, jar, site.url, bundle=bundle)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert found is not None, home.stderr
    return found.group(1)


def _login(site: DemoSite, room: Room, version: str, jar: Path, password: str, csrf: str | None) -> str:
    fields = ["--data-urlencode", f"username={LOGIN_USER}", "--data-urlencode", f"password={password}"]
    if csrf is not None:
        fields += ["--data-urlencode", f"csrf={csrf}"]
    out = curl_v(site, room, version, jar, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", *fields,
                 site.url + "login", bundle=room.good[2])
    return out.stdout


def test_stolen_session_cookie_with_another_certificate(site: DemoSite, room: Room, version: str,
                                                        tmp_path: Path) -> None:
    csrf = _csrf(site, room, version, tmp_path, room.good[2])
    assert _login(site, room, version, tmp_path, LOGIN_PASSWORD, csrf).endswith("/user")
    own = curl_v(site, room, version, tmp_path, site.url + "user", bundle=room.good[2])
    assert "Hello, ada" in own.stdout
    stolen = curl_v(site, room, version, tmp_path, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                    site.url + "user", bundle=room.second)
    assert stolen.stdout.startswith("303 ") and stolen.stdout.endswith("/?error=session")


def test_csrf_without_token(site: DemoSite, room: Room, version: str, tmp_path: Path) -> None:
    _csrf(site, room, version, tmp_path, room.good[2])
    assert _login(site, room, version, tmp_path, LOGIN_PASSWORD, None).endswith("/?error=csrf")
    assert any(e.kind == "login-failed" and "CSRF" in e.message for e in site.events.recent())


def test_brute_force(site: DemoSite, room: Room, version: str, tmp_path: Path) -> None:
    csrf = _csrf(site, room, version, tmp_path, room.good[2])
    outcomes = [_login(site, room, version, tmp_path, f"guess-{i}", csrf) for i in range(5)]
    assert all(o.endswith("/?error=login") for o in outcomes), outcomes
    # The sixth attempt, even with the right password, is not even checked.
    assert _login(site, room, version, tmp_path, LOGIN_PASSWORD, csrf).endswith("/?error=throttled")
