"""Sessions and the login: bound to the certificate, ended by logout and by expiry, no user enumeration,
and the optional certificate-to-user mapping."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.profiles import Kind
from embedded_server.app import SESSION_COOKIE
from embedded_server.site import DemoSite, SiteConfig
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, make_classroom
from tests.server.test_site import curl


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Classroom:
    """A classroom with a second student from the same CA (grace, CN=grace, whose certificate is valid too)."""
    room = make_classroom(tmp_path_factory.mktemp("sessions"))
    grace = room.workspace.issue_client_bundle(room.authority, name="grace", password=BUNDLE_PASSWORD,
                                               email="grace@example.org")
    _GRACE[room.workspace.root] = grace.bundle_path
    return room


_GRACE: dict[Path, Path] = {}


def grace_bundle(room: Classroom) -> Path:
    return _GRACE[room.workspace.root]


def start(room: Classroom, **options: Any) -> DemoSite:
    site = DemoSite(dataclasses.replace(SiteConfig.from_workspace(room.workspace, port=0), **options))
    site.start()
    return site


@pytest.fixture
def site(room: Classroom) -> Iterator[DemoSite]:
    site = start(room)
    yield site
    site.stop()


def csrf_of(site: DemoSite, room: Classroom, jar: Path, bundle: Path) -> str:
    home = curl(site, room, jar, site.url, bundle=bundle)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert found is not None, home.stdout + home.stderr
    return found.group(1)


def post_login(site: DemoSite, room: Classroom, jar: Path, username: str, password: str,
               bundle: Path | None = None) -> str:
    """Log in; returns '<status> <redirect target>'."""
    bundle = bundle or room.bundle.bundle_path
    csrf = csrf_of(site, room, jar, bundle)
    out = curl(site, room, jar, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
               "--data-urlencode", f"csrf={csrf}", "--data-urlencode", f"username={username}",
               "--data-urlencode", f"password={password}", site.url + "login", bundle=bundle)
    return out.stdout


def user_page(site: DemoSite, room: Classroom, jar: Path, bundle: Path, *extra: str) -> str:
    out = curl(site, room, jar, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", *extra,
               site.url + "user", bundle=bundle)
    return out.stdout


def cookie_value(jar: Path) -> str:
    for line in (jar / "jar").read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 7 and fields[5] == SESSION_COOKIE:
            return fields[6]
    raise AssertionError("no session cookie in the jar")


def test_session_cookie_is_httponly_secure_samesite_strict(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    csrf = csrf_of(site, room, tmp_path, room.bundle.bundle_path)
    out = curl(site, room, tmp_path, "-D", "-", "-o", "/dev/null", "-d", f"csrf={csrf}", "-d",
               f"username={LOGIN_USER}", "-d", f"password={LOGIN_PASSWORD}", site.url + "login",
               bundle=room.bundle.bundle_path)
    cookie = next(line for line in out.stdout.splitlines() if line.lower().startswith("set-cookie:"))
    assert f"{SESSION_COOKIE}=" in cookie
    for attribute in ("httponly", "secure", "samesite=strict"):
        assert attribute in cookie.lower()


def test_stolen_cookie_with_another_certificate_is_rejected(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
    assert user_page(site, room, tmp_path, room.bundle.bundle_path) == "200 "
    # Same cookie jar, another valid certificate from the same CA: the session is not Grace's.
    assert user_page(site, room, tmp_path, grace_bundle(room)).endswith("/?error=session")
    # And it was not spent by the attempt: Ada still has it.
    assert user_page(site, room, tmp_path, room.bundle.bundle_path) == "200 "


def test_forged_or_altered_cookie_is_rejected(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
    token, _, signature = cookie_value(tmp_path).rpartition(".")
    other = tmp_path / "other"
    other.mkdir()
    altered = token[:-1] + ("B" if token.endswith("A") else "A")
    for forged in (token, f"{token}.{'0' * len(signature)}", f"{altered}.{signature}"):
        result = user_page(site, room, other, room.bundle.bundle_path, "-b", f"{SESSION_COOKIE}={forged}")
        assert result.endswith("/?error=session"), forged


def test_logout_ends_the_session_on_the_server(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
    stolen = cookie_value(tmp_path)
    page = curl(site, room, tmp_path, site.url + "user", bundle=room.bundle.bundle_path)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.stdout)
    assert csrf is not None
    out = curl(site, room, tmp_path, "-o", "/dev/null", "-w", "%{http_code}", "-d", f"csrf={csrf.group(1)}",
               site.url + "logout", bundle=room.bundle.bundle_path)
    assert out.stdout == "303"
    assert user_page(site, room, tmp_path, room.bundle.bundle_path).endswith("/?error=session")
    # A copy of the cookie kept from before the logout is worthless too (the session is gone server-side).
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    replay = user_page(site, room, fresh, room.bundle.bundle_path, "-b", f"{SESSION_COOKIE}={stolen}")
    assert replay.endswith("/?error=session")
    assert any(e.kind == "logout" for e in site.events.recent())


def test_logout_without_its_csrf_token_ends_nothing(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    """A page elsewhere cannot log the student out (a forged POST carries no valid token)."""
    assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
    for token in (["-d", ""], ["-d", "csrf=" + "0" * 64]):
        out = curl(site, room, tmp_path, "-o", "/dev/null", "-w", "%{http_code}", *token, site.url + "logout",
                   bundle=room.bundle.bundle_path)
        assert out.stdout == "303"
        assert user_page(site, room, tmp_path, room.bundle.bundle_path) == "200 "
    assert not any(e.kind == "logout" for e in site.events.recent())


def test_session_expires_on_the_server(room: Classroom, tmp_path: Path) -> None:
    site = start(room, session_lifetime=5.0)  # long enough that the first look is never late on a busy machine
    try:
        assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
        assert user_page(site, room, tmp_path, room.bundle.bundle_path) == "200 "
        deadline = time.monotonic() + 30
        while (result := user_page(site, room, tmp_path, room.bundle.bundle_path)) == "200 ":
            assert time.monotonic() < deadline, "the session never expired"
        assert result.endswith("/?error=session")
    finally:
        site.stop()


def test_unknown_user_and_wrong_password_look_the_same(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    def attempt(username: str) -> tuple[str, str]:
        jar = tmp_path / username
        jar.mkdir()
        csrf = csrf_of(site, room, jar, room.bundle.bundle_path)
        out = curl(site, room, jar, "-D", str(jar / "head"), "-o", str(jar / "body"), "-L", "--data-urlencode",
                   f"csrf={csrf}", "--data-urlencode", f"username={username}", "--data-urlencode",
                   "password=not-the-password", site.url + "login", bundle=room.bundle.bundle_path)
        assert out.returncode == 0, out.stderr
        headers = (jar / "head").read_text().splitlines()
        assert headers[0].startswith("HTTP/1.1 303")
        kept = [h for h in headers if not h.lower().startswith("date:")]
        return "\n".join(kept), (jar / "body").read_text()

    known = attempt(LOGIN_USER)
    unknown = attempt("nobody-like-this")
    assert known == unknown
    assert "Wrong username or password" in known[1]
    failures = [e for e in site.events.recent() if e.kind == "login-failed"]
    # The log names real accounts, but never logs a typed non-username verbatim (it may be a password).
    assert any(e.fields.get("user") == LOGIN_USER for e in failures)
    assert not any("nobody-like-this" in (e.to_json()) for e in site.events.recent())


@pytest.fixture
def matching(room: Classroom) -> Iterator[DemoSite]:
    room.workspace.users.set_password("ada@example.org", LOGIN_PASSWORD)
    room.workspace.users.set_password("grace", LOGIN_PASSWORD)
    site = start(room, require_user_match=True)
    yield site
    site.stop()
    room.workspace.users.remove("ada@example.org")
    room.workspace.users.remove("grace")


def test_user_match_accepts_the_certificates_email_or_cn(matching: DemoSite, room: Classroom,
                                                          tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "g").mkdir()
    assert post_login(matching, room, tmp_path / "a", "ada@example.org", LOGIN_PASSWORD).endswith("/user")
    assert post_login(matching, room, tmp_path / "g", "grace", LOGIN_PASSWORD,
                      bundle=grace_bundle(room)).endswith("/user")


def test_user_match_refuses_another_users_name(matching: DemoSite, room: Classroom, tmp_path: Path) -> None:
    # ada's certificate, ada's own right password for the account "ada", but "ada" is not its CN or e-mail.
    assert post_login(matching, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/?error=mismatch")
    # Nor may Ada log in as Grace, whose password she happens to know.
    assert post_login(matching, room, tmp_path, "grace", LOGIN_PASSWORD).endswith("/?error=mismatch")
    page = curl(matching, room, tmp_path, matching.url + "?error=mismatch", bundle=room.bundle.bundle_path)
    assert "may only log in as its owner" in page.stdout
    assert any(e.message == "username does not match the certificate" for e in matching.events.recent())


def test_many_certificates_from_one_address_are_throttled_too(site: DemoSite, room: Classroom,
                                                               tmp_path: Path) -> None:
    from embedded_server.sessions import MAX_FAILURES, MAX_FAILURES_PER_ADDRESS
    from tests.server.test_refusals import make_cert_files

    results = []
    certificates = MAX_FAILURES_PER_ADDRESS // MAX_FAILURES + 1
    for c in range(certificates):
        folder = tmp_path / f"cert{c}"
        folder.mkdir()
        p12 = make_cert_files(room, folder, kind=Kind.CLIENT, issued_days_ago=0, valid_days=1)[2]
        for i in range(MAX_FAILURES):  # each certificate stays within its own limit, each username too
            results.append(post_login(site, room, folder, f"guess{c}-{i}", "wrong", bundle=p12))
    limit = MAX_FAILURES_PER_ADDRESS
    assert all(r.endswith("/?error=login") for r in results[:limit]), results[:limit]
    assert all(r.endswith("/?error=throttled") for r in results[limit:]), results[limit:]


def test_user_match_mismatches_cannot_lock_the_owner_out(matching: DemoSite, room: Classroom,
                                                         tmp_path: Path) -> None:
    from embedded_server.sessions import MAX_FAILURES

    # Ada's certificate types Grace's name again and again: refused as a mismatch, counted against Ada's
    # certificate only, until that certificate is paused.
    results = [post_login(matching, room, tmp_path, "grace", f"guess-{i}") for i in range(MAX_FAILURES + 1)]
    assert all(r.endswith("/?error=mismatch") for r in results[:MAX_FAILURES]), results
    assert results[MAX_FAILURES].endswith("/?error=throttled")
    # Grace, with her own certificate and her right password, is not locked out.
    (tmp_path / "g").mkdir()
    assert post_login(matching, room, tmp_path / "g", "grace", LOGIN_PASSWORD,
                      bundle=grace_bundle(room)).endswith("/user")


def test_one_guessing_certificate_is_paused_before_the_account(site: DemoSite, room: Classroom,
                                                               tmp_path: Path) -> None:
    from embedded_server.sessions import MAX_FAILURES, MAX_FAILURES_PER_USER

    assert MAX_FAILURES_PER_USER > MAX_FAILURES
    room.workspace.users.set_password("grace", LOGIN_PASSWORD)
    try:
        results = [post_login(site, room, tmp_path, "grace", f"guess-{i}") for i in range(MAX_FAILURES + 1)]
        assert all(r.endswith("/?error=login") for r in results[:MAX_FAILURES]), results
        assert results[MAX_FAILURES].endswith("/?error=throttled")
        (tmp_path / "g").mkdir()
        assert post_login(site, room, tmp_path / "g", "grace", LOGIN_PASSWORD,
                          bundle=grace_bundle(room)).endswith("/user")
    finally:
        room.workspace.users.remove("grace")


def test_many_certificates_guessing_one_account_pause_it(site: DemoSite, room: Classroom, tmp_path: Path) -> None:
    """The documented trade-off: the per-username limit still stops guessing from several certificates."""
    from embedded_server.sessions import MAX_FAILURES, MAX_FAILURES_PER_USER
    from tests.server.test_refusals import make_cert_files

    room.workspace.users.set_password("grace", LOGIN_PASSWORD)
    try:
        results = []
        for c in range(MAX_FAILURES_PER_USER // MAX_FAILURES):
            folder = tmp_path / f"cert{c}"
            folder.mkdir()
            p12 = make_cert_files(room, folder, kind=Kind.CLIENT, issued_days_ago=0, valid_days=1)[2]
            results += [post_login(site, room, folder, "grace", f"guess{c}-{i}", bundle=p12)
                        for i in range(MAX_FAILURES)]
        assert all(r.endswith("/?error=login") for r in results), results
        (tmp_path / "g").mkdir()
        assert post_login(site, room, tmp_path / "g", "grace", LOGIN_PASSWORD,
                          bundle=grace_bundle(room)).endswith("/?error=throttled")
    finally:
        room.workspace.users.remove("grace")


def test_removing_a_login_ends_its_sessions_at_once(tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "ws")
    site = start(room)
    try:
        assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/user")
        assert user_page(site, room, tmp_path, room.bundle.bundle_path) == "200 "
        room.workspace.users.remove(LOGIN_USER)
        assert user_page(site, room, tmp_path, room.bundle.bundle_path).endswith("/?error=session")
        assert post_login(site, room, tmp_path, LOGIN_USER, LOGIN_PASSWORD).endswith("/?error=login")
    finally:
        site.stop()
