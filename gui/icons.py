"""The app's SVG icons from resources/icons: sharp at any device pixel ratio, the same on every style."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` (a QApplication must exist)."""
    return QIcon(str(ICONS / f"{name}.svg"))
