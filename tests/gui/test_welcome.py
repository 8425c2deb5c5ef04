"""Welcome: first run lands there, its buttons lead on, recent workspaces reopen."""

from __future__ import annotations

from pathlib import Path

from gui.main_window import Area, MainWindow
from gui.wizards.create_ca import CreateCaWizard
from tests.gui.conftest import SLOW


def test_first_run_starts_on_welcome_and_create_opens_the_wizard(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window(tmp_path / "fresh")
    assert window.nav.currentRow() == Area.WELCOME
    page = window.welcome_page
    assert "no CA yet" in page.where.text()
    assert page.create_button.isEnabled()
    page.create_button.click()
    assert isinstance(window.wizard, CreateCaWizard)
    window.wizard.reject()


def test_workspace_with_ca_starts_on_authority(qtbot, make_window, workspace_with_ca) -> None:
    window = make_window(workspace_with_ca.root)
    assert window.nav.currentRow() == Area.AUTHORITY
    assert not window.welcome_page.create_button.isEnabled()


def test_recent_workspaces_and_switching(qtbot, make_window, answers, workspace_with_ca, tmp_path: Path) -> None:
    first = make_window(workspace_with_ca.root)
    first.close()
    window = make_window(tmp_path / "second")
    recent = [window.welcome_page.recent.item(i).text() for i in range(window.welcome_page.recent.count())]
    assert str(workspace_with_ca.root) in recent

    answers.directory = str(workspace_with_ca.root)
    with qtbot.waitSignal(window.welcome_page.open_workspace_requested, timeout=SLOW) as opened:
        window.welcome_page.open_button.click()
    assert opened.args[0] == workspace_with_ca.root
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=SLOW)
    others = [w for w in qtbot_windows() if w is not window and w.workspace.root == workspace_with_ca.root]
    assert others, "a window on the chosen workspace opened"
    for other in others:
        other.close()


def qtbot_windows() -> list[MainWindow]:
    from PySide6.QtWidgets import QApplication

    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
