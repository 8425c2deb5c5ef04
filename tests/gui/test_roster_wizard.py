"""Roster wizard: preview, per-line problems, a real batch on worker processes, and Cancel mid-batch."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtWidgets import QWizard

from core.workspace import Workspace
from gui.wizards.roster import Page, RosterWizard
from tests.gui.conftest import SLOW, wait_idle

NEXT = QWizard.WizardButton.NextButton


def open_wizard(qtbot, window) -> RosterWizard:
    window.authority_page.roster_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: isinstance(window.wizard, RosterWizard), timeout=SLOW)
    assert isinstance(window.wizard, RosterWizard)
    return window.wizard


def write_roster(path: Path, count: int) -> Path:
    lines = ["name,email,password"] + [f"Student {i},s{i}@school.example," for i in range(count)]
    lines[1] = "Ada Lovelace,ada@school.example,chosen-password-1"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_roster_issues_every_bundle_and_a_handout(qtbot, make_window, workspace_with_ca: Workspace,
                                                   tmp_path: Path) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    out = tmp_path / "class"
    wizard.file_page.roster.setText(str(write_roster(tmp_path / "roster.csv", 6)))
    wizard.file_page.out_dir.setText(str(out))
    assert wizard.file_page.check()
    assert wizard.file_page.preview.rowCount() == 6
    wizard.button(NEXT).click()
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.ISSUE
    with qtbot.waitSignal(wizard.finished_batch, timeout=SLOW * 2) as done:
        wizard.accept()
    result = done.args[0]
    assert result.complete and len(result.issued) == 6
    assert sorted(p.name for p in out.glob("*.p12")) == sorted(f"{r.stem}.p12" for r, _, _ in result.issued)
    with open(result.handout, encoding="utf-8-sig", newline="") as fh:
        handout = list(csv.DictReader(fh))
    assert {h["name"]: h["password"] for h in handout}["Ada Lovelace"] == "chosen-password-1"
    assert wizard.issue_page.bar.value() == 6
    assert len([r for r in workspace_with_ca.registry.list() if r.kind == "client"]) == 6
    wizard.accept()  # Close


def test_bad_rows_are_listed_by_line_and_block_next(qtbot, make_window, workspace_with_ca: Workspace,
                                                    tmp_path: Path) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    roster = tmp_path / "bad.csv"
    roster.write_text("name,email\nAda,ada@school.example\n../..,x\nGrace,not-an-email\n", encoding="utf-8")
    wizard.file_page.roster.setText(str(roster))
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.FILE
    problems = [wizard.file_page.problems.item(i).text() for i in range(wizard.file_page.problems.count())]
    assert any(p.startswith("Line 3") for p in problems), problems
    assert any(p.startswith("Line 4") for p in problems), problems
    assert not list(workspace_with_ca.clients_dir.glob("*.p12"))
    wizard.reject()


def test_cancel_mid_batch_keeps_files_and_registry_in_agreement(qtbot, make_window, workspace_with_ca: Workspace,
                                                                tmp_path: Path) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    out = tmp_path / "class"
    wizard.file_page.roster.setText(str(write_roster(tmp_path / "roster.csv", 120)))
    wizard.file_page.out_dir.setText(str(out))
    wizard.button(NEXT).click()
    wizard.button(NEXT).click()
    wizard._progress.step.connect(lambda done, total, name: wizard.cancel_batch())
    with qtbot.waitSignal(wizard.finished_batch, timeout=SLOW * 2) as done:
        wizard.accept()
    result = done.args[0]
    assert result.cancelled and 0 < len(result.issued) < 120
    bundles = sorted(p.name for p in out.glob("*.p12"))
    assert bundles == sorted(path.name for _, path, _ in result.issued)
    rows = [r for r in workspace_with_ca.registry.list() if r.kind == "client"]
    assert len(rows) == len(bundles)
    assert not list(out.glob(".*tmp*")), "no half-written files"
    wizard.accept()
