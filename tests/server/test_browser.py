"""A real browser: headless Chromium with an NSS database made by certutil/pk12util.

Chromium on Linux keeps certificates in ``$HOME/.pki/nssdb``; it picks the client
certificate without a dialog when the managed policy ``AutoSelectCertificateForUrls``
names the site. Managed policies live in ``/etc/chromium/policies/managed`` (root only),
which CI runs as.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from embedded_server.site import DemoSite
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, Classroom, need

pytestmark = pytest.mark.browser

POLICY_DIR = Path("/etc/chromium/policies/managed")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def make_home(tmp_path: Path, classroom: Classroom, *, with_bundle: bool) -> Path:
    home = tmp_path / "home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([need("certutil"), "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    subprocess.run([need("certutil"), "-A", "-d", f"sql:{db}", "-n", "Classroom CA", "-t", "C,,",
                    "-i", str(classroom.ca_cert)], check=True, capture_output=True)
    if with_bundle:
        pw = tmp_path / "bundle.pw"
        pw.write_text(BUNDLE_PASSWORD)
        empty = tmp_path / "empty.pw"
        empty.write_text("")
        subprocess.run([need("pk12util"), "-i", str(classroom.bundle.bundle_path), "-d", f"sql:{db}", "-w", str(pw),
                        "-k", str(empty)], check=True, capture_output=True)
    return home


@pytest.fixture
def auto_select_policy(site: DemoSite, classroom: Classroom) -> Iterator[None]:
    if os.geteuid() != 0:
        message = "needs root to write Chromium's managed policy (CI runs as root)"
        if os.environ.get("MTLSLAB_CI"):  # .ci/run sets it: there, a skipped browser test would prove nothing
            pytest.fail(message)
        pytest.skip(message)
    POLICY_DIR.mkdir(parents=True, exist_ok=True)
    policy = POLICY_DIR / f"mtlslab-test-{os.getpid()}.json"
    rule = {"pattern": site.url.rstrip("/"),
            "filter": {"ISSUER": {"CN": classroom.authority.name}}}
    policy.write_text(json.dumps({"AutoSelectCertificateForUrls": [json.dumps(rule)]}))
    yield
    policy.unlink()


@pytest.fixture
def chromium() -> str:
    return need("chromium")


def test_chromium_with_bundle_logs_in_and_reaches_user(site: DemoSite, classroom: Classroom, tmp_path: Path,
                                                       auto_select_policy: None, chromium: str) -> None:
    home = make_home(tmp_path, classroom, with_bundle=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS,
                                    env={**os.environ, "HOME": str(home)})
        try:
            page = browser.new_page()
            page.goto(site.url)
            assert page.text_content("#cert-subject") == "CN=Ada Lovelace,O=Tests"
            page.fill("#username", LOGIN_USER)
            page.fill("#password", LOGIN_PASSWORD)
            page.click("#login-form button[type=submit]")
            page.wait_for_url("**/user")
            assert page.text_content("#user-title") == f"Hello, {LOGIN_USER}"
            if os.environ.get("MTLSLAB_SCREENSHOT_DIR"):  # tools/screenshots.py's README picture of the site
                page.set_viewport_size({"width": 1000, "height": 640})
                page.screenshot(path=str(Path(os.environ["MTLSLAB_SCREENSHOT_DIR"]) / "site-user-page.png"))
        finally:
            browser.close()


def test_chromium_without_bundle_is_refused(site: DemoSite, classroom: Classroom, tmp_path: Path,
                                            auto_select_policy: None, chromium: str) -> None:
    home = make_home(tmp_path, classroom, with_bundle=False)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS,
                                    env={**os.environ, "HOME": str(home)})
        try:
            page = browser.new_page()
            with pytest.raises(playwright.Error, match="ERR_"):
                page.goto(site.url)
        finally:
            browser.close()
    assert any(e.kind == "connection-refused" and e.message == "no client certificate"
               for e in site.events.recent())
