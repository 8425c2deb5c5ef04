"""The one seam for talking to the user, in the manner of qutebrowser's ``utils/message.py``.

Information and errors are non-modal boxes that delete themselves when closed.
Every modal question goes through :meth:`Messages.ask` (or :meth:`Messages.ask_file`),
the methods tests replace.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget


class Messages(QObject):
    """User messages for one main window. ``shown(level, title, text)`` fires for every box (tests listen)."""

    shown = Signal(str, str, str)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self._parent_widget = parent_widget
        self.last: tuple[str, str, str] | None = None

    # -- non-modal boxes ---------------------------------------------------------
    def info(self, title: str, text: str, *, parent: QWidget | None = None) -> QMessageBox:
        return self._box(QMessageBox.Icon.Information, "info", title, text, parent)

    def warning(self, title: str, text: str, *, parent: QWidget | None = None) -> QMessageBox:
        return self._box(QMessageBox.Icon.Warning, "warning", title, text, parent)

    def error(self, title: str, text: str, *, parent: QWidget | None = None) -> QMessageBox:
        return self._box(QMessageBox.Icon.Critical, "error", title, text, parent)

    def _box(self, icon: QMessageBox.Icon, level: str, title: str, text: str, parent: QWidget | None) -> QMessageBox:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent or self._parent_widget)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.show()
        self.last = (level, title, text)
        self.shown.emit(level, title, text)
        return box

    # -- modal questions (tests replace these) -------------------------------------
    def ask(self, title: str, label: str, *, secret: bool = False, parent: QWidget | None = None) -> str | None:
        """Ask for one line of text; ``None`` when the user cancels."""
        mode = QLineEdit.EchoMode.Password if secret else QLineEdit.EchoMode.Normal
        text, ok = QInputDialog.getText(parent or self._parent_widget, title, label, mode)
        return text if ok else None

    def ask_file(self, title: str, start: str, file_filter: str, *, parent: QWidget | None = None) -> str | None:
        """Ask for an existing file; ``None`` when the user cancels."""
        path, _ = QFileDialog.getOpenFileName(parent or self._parent_widget, title, start, file_filter)
        return path or None

    def ask_directory(self, title: str, start: str, *, parent: QWidget | None = None) -> str | None:
        """Ask for a folder; ``None`` when the user cancels."""
        path = QFileDialog.getExistingDirectory(parent or self._parent_widget, title, start)
        return path or None

    def ask_save_file(self, title: str, start: str, file_filter: str, *, parent: QWidget | None = None) -> str | None:
        """Ask where to save a file; ``None`` when the user cancels."""
        path, _ = QFileDialog.getSaveFileName(parent or self._parent_widget, title, start, file_filter)
        return path or None

    def ask_choice(self, title: str, label: str, choices: list[str], *, parent: QWidget | None = None) -> str | None:
        """Ask to pick one of ``choices``; ``None`` when the user cancels."""
        item, ok = QInputDialog.getItem(parent or self._parent_widget, title, label, choices, 0, False)
        return item if ok else None

    def open_url(self, url: str) -> bool:
        """Hand ``url`` to the system's default browser (one seam, so tests see what would open)."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        return bool(QDesktopServices.openUrl(QUrl(url)))

    def ask_passphrase(self, *, parent: QWidget | None = None) -> str | None:
        """The CA passphrase, asked through :meth:`ask`."""
        return self.ask(
            "Unlock the CA",
            "CA passphrase (kept in memory until you close mTLS Lab):",
            secret=True,
            parent=parent,
        )


def sentence(text: str) -> str:
    """Capitalise and end with a full stop: core messages are lower-case clauses."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
