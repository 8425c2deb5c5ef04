"""Test Connection against the real demo site: each outcome gets its own diagnosis."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.connection_test import ConnectionReport, ConnectionTestInput, Status, run_connection_test
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom


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


def test_name_not_in_server_certificate(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    room.workspace.issue_server(room.authority, hosts=["127.0.0.1"])  # no host name this time
    demo = DemoSite(SiteConfig.from_workspace(room.workspace, port=0))
    demo.start()
    try:
        report = run(room, f"https://localhost:{demo.address[1]}/")
    finally:
        demo.stop()
    step = report.steps[2]
    assert step.status is Status.FAILED
    assert (step.cause or "").startswith("The server's certificate is not made out for localhost")
    assert step.facts["host matched"] == "localhost: no"
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
    assert report.steps[0].cause == "The bundle password is wrong."
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
