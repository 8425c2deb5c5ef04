"""Remembered values (window state, recent workspaces), kept in one QSettings file per user."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

RECENT_KEY = "workspace/recent"
LAST_KEY = "workspace/last"
GEOMETRY_KEY = "window/geometry"
MAX_RECENT = 8


def app_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "mTLS Lab", "mTLS Lab")


def recent_workspaces() -> list[Path]:
    value = app_settings().value(RECENT_KEY, [])
    items: list[object] = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    # Folders deleted since (or on an unplugged drive) are not offered.
    return [Path(str(p)) for p in items if str(p) and Path(str(p)).is_dir()]


def remember_workspace(path: Path) -> None:
    settings = app_settings()
    text = str(path)
    recent = [str(p) for p in recent_workspaces() if str(p) != text]
    settings.setValue(RECENT_KEY, [text, *recent][:MAX_RECENT])
    settings.setValue(LAST_KEY, text)
