"""Browse… buttons fill their field through the message seam, and the roster is checked at once."""

from __future__ import annotations

from pathlib import Path

from core.workspace import Workspace
from gui.main_window import Area
from tests.gui.test_roster_wizard import open_wizard, write_roster


def test_browse_fills_the_test_connection_fields(qtbot, make_window, answers, tmp_path: Path) -> None:
    window = make_window(tmp_path / "ws")
    window.show_area(Area.TEST_CONNECTION)
    page = window.test_connection_page
    answers.file = str(tmp_path / "student.p12")
    page.browse_bundle.click()
    assert page.bundle_file.text() == answers.file
    answers.file = None  # cancelled: the field keeps its value
    page.browse_bundle.click()
    assert page.bundle_file.text() == str(tmp_path / "student.p12")
    assert answers.asked == ["Client bundle", "Client bundle"]


def test_choosing_a_roster_checks_it(qtbot, make_window, answers, workspace_with_ca: Workspace,
                                     tmp_path: Path) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    wizard.file_page.out_dir.setText(str(tmp_path / "class"))
    answers.file = str(write_roster(tmp_path / "roster.csv", 4))
    browse = next(b for b in wizard.file_page.findChildren(type(window.test_connection_page.browse_bundle))
                  if b.text() == "Browse…")
    browse.click()
    assert wizard.file_page.roster.text() == answers.file
    assert wizard.file_page.preview.rowCount() == 4
    wizard.reject()
