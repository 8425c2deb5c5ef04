"""Status colours (good, warning, bad) that stay readable on the system's light or dark palette.

The light values reach 4.5:1 (WCAG AA) on a light grey window; on a dark window they would fall to about
2:1, so a dark palette gets lighter values instead (above 4.5:1 on #2d2d2d). tests/gui/test_tones.py checks both.
"""

from __future__ import annotations

import enum

from PySide6.QtGui import QColor, QGuiApplication, QPalette


class Tone(enum.Enum):
    GOOD = "good"
    WARNING = "warning"
    BAD = "bad"


_LIGHT = {Tone.GOOD: "#116329", Tone.WARNING: "#7d4e00", Tone.BAD: "#b00020"}
_DARK = {Tone.GOOD: "#56d364", Tone.WARNING: "#e3b341", Tone.BAD: "#ff7b72"}


def is_dark() -> bool:
    """Whether the application's window background is dark (the system's dark mode, or a dark style)."""
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def tone(which: Tone) -> str:
    """The colour for ``which`` on the current palette, as ``#rrggbb``."""
    return (_DARK if is_dark() else _LIGHT)[which]


def styled(text: str, which: Tone, *, bold: bool = True) -> str:
    """``text`` (already HTML) in the colour of ``which``, for a rich-text label."""
    inner = f"<b>{text}</b>" if bold else text
    return f"<span style='color:{tone(which)}'>{inner}</span>"


def dark_palette() -> QPalette:
    """A dark palette like the one a desktop in dark mode hands Qt (for the screenshot tool and tests)."""
    palette = QPalette()
    role = QPalette.ColorRole
    for r, colour in ((role.Window, "#2d2d2d"), (role.WindowText, "#e6e6e6"), (role.Base, "#1e1e1e"),
                      (role.AlternateBase, "#262626"), (role.Text, "#e6e6e6"), (role.Button, "#3a3a3a"),
                      (role.ButtonText, "#e6e6e6"), (role.Highlight, "#2f81f7"), (role.HighlightedText, "#ffffff"),
                      (role.ToolTipBase, "#3a3a3a"), (role.ToolTipText, "#e6e6e6"), (role.PlaceholderText, "#8a8f98"),
                      (role.Link, "#58a6ff"), (role.Mid, "#444444"), (role.Dark, "#1a1a1a"), (role.Light, "#505050")):
        palette.setColor(r, QColor(colour))
    for r in (role.Text, role.ButtonText, role.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, r, QColor("#7a7a7a"))
    return palette
