"""Welcome: what to do first, and the workspaces used recently."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.session import Session
from gui.settings import recent_workspaces


class WelcomePage(QWidget):
    create_ca_requested = Signal()
    import_ca_requested = Signal()
    quick_classroom_requested = Signal()
    open_workspace_requested = Signal(object)  # Path

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        intro = QLabel(
            "<h2>Welcome to mTLS Lab</h2>"
            "<p>Run a certificate authority for your class, give each student a password-protected bundle, "
            "serve a site that demands it, and let students see exactly why their connection works or fails.</p>"
        )
        intro.setWordWrap(True)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.quick_button = QPushButton("Quick classroom…")
        self.quick_button.setToolTip("CA, server certificate, the bundles of a class list and the site, in one go")
        self.create_button = QPushButton("Create a CA…")
        self.create_button.setToolTip('A new certificate authority for your class, step by step (names, key, '
                                      'passphrase)')
        self.import_button = QPushButton("Import an existing CA…")
        self.import_button.setToolTip("A CA made with openssl, easy-rsa, XCA or Java keytool (PEM/DER + key, or .p12)")
        self.open_button = QPushButton("Open another workspace…")
        self.open_button.setToolTip("Open a folder that holds another class's CA (it is remembered in the list below)")
        for button, signal in (
            (self.quick_button, self.quick_classroom_requested),
            (self.create_button, self.create_ca_requested),
            (self.import_button, self.import_ca_requested),
        ):
            button.setMinimumHeight(36)
            button.clicked.connect(signal)
        self.open_button.setMinimumHeight(36)
        self.open_button.clicked.connect(self.choose_workspace)

        actions = QGroupBox("Start")
        actions_layout = QVBoxLayout(actions)
        for button in (self.quick_button, self.create_button, self.import_button, self.open_button):
            actions_layout.addWidget(button)

        recent_box = QGroupBox("Recent workspaces (double-click to open)")
        self.recent = QListWidget()
        self.recent.itemActivated.connect(self._open_recent)
        QVBoxLayout(recent_box).addWidget(self.recent)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.where)
        layout.addWidget(actions)
        layout.addWidget(recent_box, 1)
        session.ca_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ws = self.session.workspace
        has_ca = ws.has_ca()
        self.where.setText(
            f"This workspace: <b>{ws.root}</b> — "
            + ("it has a CA: go to <i>Authority</i>." if has_ca else "no CA yet: create or import one.")
        )
        self.quick_button.setEnabled(not has_ca)
        self.create_button.setEnabled(not has_ca)
        self.import_button.setEnabled(not has_ca)
        self.recent.clear()
        for path in recent_workspaces():
            if path != ws.root:
                item = QListWidgetItem(str(path))
                item.setData(Qt.ItemDataRole.UserRole, str(path))
                self.recent.addItem(item)
        if not self.recent.count():
            # Not a blank box on first run: say what will appear here.
            hint = QListWidgetItem("None yet: folders you open or create with mTLS Lab are listed here.")
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(hint)

    def choose_workspace(self) -> None:
        chosen = self.session.messages.ask_directory("Open a workspace folder", str(self.session.workspace.root))
        if chosen:
            self.open_workspace_requested.emit(Path(chosen))

    def _open_recent(self, item: QListWidgetItem) -> None:
        if item.data(Qt.ItemDataRole.UserRole) is None:  # the "none yet" hint
            return
        self.open_workspace_requested.emit(Path(str(item.data(Qt.ItemDataRole.UserRole))))
