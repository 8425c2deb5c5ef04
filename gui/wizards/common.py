"""Pieces the wizards share: a busy indicator, the error line, password strength words."""

from __future__ import annotations

import math
import string

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget


class BusyBar(QWidget):
    """An indeterminate progress bar with a caption, hidden until :meth:`start`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.bar)
        self.hide()

    def start(self, caption: str) -> None:
        self.caption.setText(caption)
        self.show()

    def stop(self) -> None:
        self.hide()


class ErrorLabel(QLabel):
    """A red line under a form that says why Next did not go on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("color: #b00020;")
        self.setWordWrap(True)
        self.hide()

    def show_error(self, text: str) -> None:
        self.setText(text)
        self.show()

    def clear_error(self) -> None:
        self.clear()
        self.hide()


def strength_hint(secret: str) -> str:
    """A rough, honest hint: entropy if the characters were chosen at random (an upper bound for words)."""
    if not secret:
        return ""
    pool = 0
    for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        if any(c in chars for c in secret):
            pool += len(chars)
    if any(not c.isascii() or not c.isalnum() for c in secret):
        pool += 33
    bits = len(secret) * math.log2(max(pool, 2))
    if len(secret) < 8:
        verdict = "too short (at least 8 characters)"
    elif bits < 50:
        verdict = "weak — add length; a few random words work well"
    elif bits < 80:
        verdict = "fair"
    else:
        verdict = "strong"
    return f"Strength: {verdict} (about {int(bits)} bits at most)"
