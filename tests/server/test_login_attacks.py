"""The knowledge factor under attack: brute force, throttle resets, odd CSRF tokens."""

from __future__ import annotations

import re
from pathlib import Path

from embedded_server.site import DemoSite
from tests.conftest import LOGIN_PASSWORD, LOGIN_USER, Classroom
from tests.server.test_site import curl


def login(site: DemoSite, room: Classroom, tmp_path: Path, username: str, password: str,
          csrf: str | None = None) -> str:
    """POST the login form; return where the site sent us (the redirect target)."""
    bundle = room.bundle.bundle_path
    if csrf is None:
        home = curl(site, room, tmp_path, site.url, bundle=bundle)
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
        assert found is not None
        csrf = found.group(1)
    out = curl(site, room, tmp_path, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
               "--data-urlencode", f"csrf={csrf}", "--data-urlencode", f"username={username}",
               "--data-urlencode", f"password={password}", site.url + "login", bundle=bundle)
    return out.stdout


def test_brute_force_is_throttled_and_a_own_login_does_not_reset_it(site: DemoSite, classroom: Classroom,
                                                                       tmp_path: Path) -> None:
    classroom.workspace.users.set_password("victim", "victim-pass-789")
    home = curl(site, classroom, tmp_path, site.url, bundle=classroom.bundle.bundle_path)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', home.stdout)
    assert found is not None
    csrf = found.group(1)
    try:
        results = [login(site, classroom, tmp_path, "victim", f"guess-{i}", csrf) for i in range(4)]
        assert all(r.endswith("/?error=login") for r in results), results
        # Logging in as yourself must not wipe the failures against the other account...
        assert login(site, classroom, tmp_path, LOGIN_USER, LOGIN_PASSWORD, csrf).endswith("/user")
        assert login(site, classroom, tmp_path, "victim", "guess-5", csrf).endswith("/?error=login")
        # ...so even the right password for the victim is now refused, without being checked.
        assert login(site, classroom, tmp_path, "victim", "victim-pass-789", csrf).endswith("/?error=throttled")
        assert any(e.kind == "login-throttled" for e in site.events.recent())
    finally:
        classroom.workspace.users.remove("victim")


def test_non_ascii_csrf_token_is_a_clean_refusal(site: DemoSite, classroom: Classroom, tmp_path: Path) -> None:
    result = login(site, classroom, tmp_path, LOGIN_USER, LOGIN_PASSWORD, csrf="\u00e9\u00ff")
    assert result.startswith("303 ") and result.endswith("/?error=csrf")
