"""Pieces the wizards share: a busy indicator, the error line, password strength words."""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget, QWizard

from gui.messages import sentence
from gui.tones import Tone, tone

if TYPE_CHECKING:
    from gui.session import Session


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
        self.setStyleSheet(f"color: {tone(Tone.BAD)};")
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


class ActionWizard(QWizard):
    """A wizard whose Finish runs one slow action on a worker.

    While it runs, Finish, Back and Cancel are locked and ``busy_bar`` moves; a failure
    is shown and the wizard stays open with the answers kept; success calls ``done``
    and closes. Subclasses build their pages and call :meth:`run_action` from ``accept``.
    """

    failure_title = "The action failed"

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def run_action(
        self,
        action: Callable[[], object],
        *,
        label: str,
        caption: str,
        busy_bar: BusyBar,
        done: Callable[[Any], None],
    ) -> None:
        if self._busy:
            return
        self._set_busy(True, busy_bar, caption)

        def succeeded(result: object) -> None:
            self._set_busy(False, busy_bar)
            done(result)
            QWizard.accept(self)

        def failed(message: str) -> None:
            self._set_busy(False, busy_bar)
            self.session.messages.error(self.failure_title, sentence(message), parent=self)

        self.session.tasks.run(action, on_success=succeeded, on_failure=failed, owner=self, label=label)

    def reject(self) -> None:
        if not self._busy:
            super().reject()

    def _set_busy(self, busy: bool, bar: BusyBar, caption: str = "") -> None:
        self._busy = busy
        for button in (QWizard.WizardButton.FinishButton, QWizard.WizardButton.BackButton,
                       QWizard.WizardButton.CancelButton):
            self.button(button).setEnabled(not busy)
        if busy:
            bar.start(caption)
        else:
            bar.stop()
