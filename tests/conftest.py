"""Shared fixtures: real workspaces, real certificates, a real site on loopback."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from core.authority import Authority
from core.workspace import IssuedBundle, Workspace
from embedded_server.site import DemoSite, SiteConfig

CA_PASSPHRASE = "correct horse battery"
BUNDLE_PASSWORD = "bundle-pass-123"
LOGIN_USER = "ada"
LOGIN_PASSWORD = "login-pass-456"


@dataclass
class Classroom:
    workspace: Workspace
    authority: Authority
    bundle: IssuedBundle

    @property
    def ca_cert(self) -> Path:
        return self.workspace.ca_cert_path


def make_classroom(root: Path, *, ca_name: str = "Test Classroom CA", student: str = "Ada Lovelace") -> Classroom:
    ws = Workspace(root)
    authority = ws.create_ca(common_name=ca_name, organization="Tests", passphrase=CA_PASSPHRASE)
    ws.issue_server(authority)
    bundle = ws.issue_client_bundle(authority, name=student, password=BUNDLE_PASSWORD, email="ada@example.org")
    ws.users.set_password(LOGIN_USER, LOGIN_PASSWORD)
    return Classroom(ws, authority, bundle)


@pytest.fixture(scope="session")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Classroom:
    return make_classroom(tmp_path_factory.mktemp("classroom"))


@pytest.fixture(scope="session")
def other_classroom(tmp_path_factory: pytest.TempPathFactory) -> Classroom:
    """A second, unrelated CA with its own student: its bundle must be refused by the first site."""
    return make_classroom(tmp_path_factory.mktemp("other"), ca_name="Some Other CA", student="Eve")


@pytest.fixture
def site(classroom: Classroom) -> Iterator[DemoSite]:
    before = set(threading.enumerate())
    demo = DemoSite(SiteConfig.from_workspace(classroom.workspace, port=0))
    demo.start()
    yield demo
    demo.stop()
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leftover, f"threads left running after stop: {leftover}"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; .ci/run installs it (run ./run-tests.sh)")
    return path


def poll_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.02, what: str = "") -> None:
    """Wait for a condition on another process (a file it writes, a pid that ends) with a deadline.

    In-process code signals with events; an external process can only be observed, so this polls,
    as pytest-qt's waitUntil does for widgets.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or 'the condition'}")
        pause.wait(interval)
