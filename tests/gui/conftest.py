"""Fixtures for GUI tests: a real workspace in tmp_path, the main window, the modal seam replaced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QThreadPool

from core.workspace import Workspace
from gui.main_window import MainWindow

CA_PASSPHRASE = "correct horse battery"
SLOW = 60_000  # ms: key generation and PKCS#12 encryption on a slow CI machine


class Answers:
    """Stands in for the modal questions of :class:`gui.messages.Messages`; records what was asked."""

    def __init__(self) -> None:
        self.passphrase: str | None = CA_PASSPHRASE
        self.save_to: str | None = None
        self.choice: str | None = None
        self.directory: str | None = None
        self.file: str | None = None
        self.asked: list[str] = []

    def ask(self, title: str, label: str, *, secret: bool = False, parent: object = None) -> str | None:
        self.asked.append(title)
        return self.passphrase

    def ask_file(self, title: str, start: str, file_filter: str, *, parent: object = None) -> str | None:
        self.asked.append(title)
        return self.file

    def ask_directory(self, title: str, start: str, *, parent: object = None) -> str | None:
        self.asked.append(title)
        return self.directory

    def ask_save_file(self, title: str, start: str, file_filter: str, *, parent: object = None) -> str | None:
        self.asked.append(title)
        return self.save_to

    def ask_choice(self, title: str, label: str, choices: list[str], *, parent: object = None) -> str | None:
        self.asked.append(title)
        assert self.choice is None or self.choice in choices
        return self.choice


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Remembered values go to a fresh temporary folder per test, not the tester's own settings."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path_factory.mktemp("qsettings")))


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def make_window(qtbot, answers: Answers) -> Iterator[Callable[[Path], MainWindow]]:
    windows: list[MainWindow] = []

    def make(root: Path) -> MainWindow:
        window = MainWindow(root)
        window.messages.ask = answers.ask  # type: ignore[method-assign]
        window.messages.ask_file = answers.ask_file  # type: ignore[method-assign]
        window.messages.ask_save_file = answers.ask_save_file  # type: ignore[method-assign]
        window.messages.ask_directory = answers.ask_directory  # type: ignore[method-assign]
        window.messages.ask_choice = answers.ask_choice  # type: ignore[method-assign]
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        # Closing stops the site; assert it really ended before the next test.
        window.close()
        assert window.session.site is None
    assert QThreadPool.globalInstance().waitForDone(30_000)


@pytest.fixture
def workspace_with_ca(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws")
    ws.create_ca(common_name="Fixture CA", passphrase=CA_PASSPHRASE)
    return ws


@pytest.fixture
def workspace_with_server(workspace_with_ca: Workspace) -> Workspace:
    ws = workspace_with_ca
    ws.issue_server(ws.load_ca(CA_PASSPHRASE))
    return ws


def wait_idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.tasks.busy, timeout=SLOW)
