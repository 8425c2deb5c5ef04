"""A path field with a Browse… button that asks through the message seam (so tests can answer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QWidget

from gui.messages import Messages

CERTIFICATE_FILES = "Certificates (*.crt *.pem *.cer *.der);;All files (*)"
BUNDLE_FILES = "PKCS#12 bundles (*.p12 *.pfx);;All files (*)"
CSV_FILES = "CSV files (*.csv);;All files (*)"


def file_row(
    field: QLineEdit,
    messages: Messages,
    title: str,
    file_filter: str,
    *,
    start: Callable[[], str] | None = None,
    then: Callable[[], object] | None = None,
    parent: QWidget | None = None,
) -> tuple[QHBoxLayout, QPushButton]:
    """``field`` with a Browse… button beside it; the chosen path goes into ``field``.

    Args:
        start: where the dialog opens when the field is empty (default: the home folder).
        then: called after a file was chosen.

    Returns:
        The row to put in a form, and its button.
    """
    button = QPushButton("Browse…")
    button.setToolTip(f"Choose the {title.lower()} file")

    def browse() -> None:
        begin = field.text().strip() or (start() if start else str(Path.home()))
        chosen = messages.ask_file(title, begin, file_filter, parent=parent)
        if chosen:
            field.setText(chosen)
            if then is not None:
                then()

    button.clicked.connect(browse)
    row = QHBoxLayout()
    row.addWidget(field, 1)
    row.addWidget(button)
    return row, button
