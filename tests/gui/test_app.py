"""Choosing the workspace at start."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from gui.app import DEFAULT_WORKSPACE, choose_workspace, parse_args


def test_choose_workspace(tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert choose_workspace(None, settings) == DEFAULT_WORKSPACE.expanduser().resolve()
    settings.setValue("workspace/last", str(tmp_path / "last"))
    assert choose_workspace(None, settings) == tmp_path / "last"
    args = parse_args(["--workspace", str(tmp_path / "given")])
    assert choose_workspace(args.workspace, settings) == tmp_path / "given"
