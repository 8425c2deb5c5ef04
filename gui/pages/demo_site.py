"""Demo Site: start and stop the mutual-TLS site, set its login, watch what happens live."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.passwords import generate_password
from core.site_users import check_username
from embedded_server.events import Event
from embedded_server.site import DEFAULT_PORT, DemoSite, SiteConfig, SiteError
from gui.messages import sentence
from gui.session import Credentials, Session
from gui.tones import Tone, tone

MAX_LOG_LINES = 1000
_BAD_KINDS = ("refused", "failed", "error", "denied")


class _EventRelay(QObject):
    """Site listeners run on server threads; emitting here queues the event to the GUI thread."""

    site_event = Signal(object)


class DemoSitePage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._relay = _EventRelay(self)
        self._relay.site_event.connect(self._append_event)
        self._starting: DemoSite | None = None

        # -- site ----------------------------------------------------------------
        site_box = QGroupBox("Site")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.port.setSpecialValueText("any free port")
        self.port.setToolTip("0 picks any free port")
        self.port.setMinimumWidth(self.port.fontMetrics().horizontalAdvance("any free port") + 40)
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip('Start the demo site with the mode, address and port above')
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip('Stop the site; open connections are closed')
        self.start_button.clicked.connect(self.start_site)
        self.stop_button.clicked.connect(self.stop_site)
        self.state = QLabel()
        self.url = QLabel()
        self.url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_url = QPushButton("Copy")
        self.copy_url.setToolTip("Copy the site's address, to paste into a browser or a message to students")
        self.copy_url.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.url.text()))
        self.open_url = QPushButton("Open in browser")
        self.open_url.setToolTip("Open the site in this computer's default browser (your bundle must be imported)")
        self.open_url.clicked.connect(lambda: self.session.messages.open_url(self.url.text()))
        self.mode = QComboBox()
        self.mode.addItem("Strict — no certificate, no connection (default)", "strict")
        self.mode.addItem("Friendly — explain a missing certificate with a page", "friendly")
        self.mode.setToolTip(
            "Strict is what production servers do (nginx ssl_verify_client on): the browser only shows a TLS "
            "error.\nFriendly lets a browser without a certificate in and shows how to import the bundle; a bad "
            "certificate (other CA, expired, revoked) is still refused in the handshake.\nUse Friendly for the "
            "first lesson, Strict once everyone has imported their bundle."
        )
        self.bind = QLineEdit("127.0.0.1")
        self.bind.setToolTip(
            "127.0.0.1: only this computer can connect (default).\nFor a classroom, type this computer's LAN "
            "address; the server certificate must name it (Authority → Issue server certificate)."
        )
        self.bind.setMaximumWidth(160)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Port:"))
        controls.addWidget(self.port)
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        controls.addStretch(1)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy_url)
        url_row.addWidget(self.open_url)
        site_form = QFormLayout(site_box)
        bind_row = QHBoxLayout()
        bind_row.addWidget(self.bind)
        bind_row.addStretch(1)
        site_form.addRow("Mode:", self.mode)
        site_form.addRow("Listen on:", bind_row)
        site_form.addRow(controls)
        site_form.addRow("Status:", self.state)
        site_form.addRow("Address:", url_row)

        # -- demo user -------------------------------------------------------------
        user_box = QGroupBox("Demo user (the password half of the login)")
        self.username = QLineEdit()
        self.username.setToolTip('The login students type after their certificate was accepted')
        self.username.setPlaceholderText("e.g. ada")
        self.password = QLineEdit()
        self.password.setToolTip("Type the login's password, or press Generate; only a hash of it is stored")
        self.password.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.password.setPlaceholderText("type one, or press Generate")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip('Make a readable random password (shown once; only its hash is stored)')
        self.generate_button.clicked.connect(lambda: self.password.setText(generate_password()))
        self.save_user_button = QPushButton("Set user")
        self.save_user_button.setToolTip('Add this login, or change its password (the second factor students type)')
        self.save_user_button.clicked.connect(self.save_user)
        self.remove_user_button = QPushButton("Remove user")
        self.remove_user_button.setToolTip("Remove the login named above; anyone logged in with it is logged out")
        self.remove_user_button.clicked.connect(self.remove_user)
        pw_row = QHBoxLayout()
        pw_row.addWidget(self.password, 1)
        pw_row.addWidget(self.generate_button)
        self.user_note = QLabel()
        self.user_note.setWordWrap(True)
        self.user_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.users = QLabel()
        user_form = QFormLayout(user_box)
        user_form.addRow("Username:", self.username)
        user_form.addRow("Password:", pw_row)
        user_buttons = QHBoxLayout()
        user_buttons.addWidget(self.save_user_button, 1)
        user_buttons.addWidget(self.remove_user_button)
        user_form.addRow("", user_buttons)
        user_form.addRow(self.user_note)
        user_form.addRow("Users:", self.users)

        # -- log ---------------------------------------------------------------------
        log_box = QGroupBox("Live events")
        self.log = QListWidget()
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setUniformItemSizes(True)
        self.clear_log_button = QPushButton("Clear")
        self.clear_log_button.setToolTip('Clear this view (the log file site/events.jsonl keeps everything)')
        self.clear_log_button.clicked.connect(self.log.clear)
        log_layout = QVBoxLayout(log_box)
        log_layout.addWidget(self.log, 1)
        log_layout.addWidget(self.clear_log_button, 0, Qt.AlignmentFlag.AlignRight)

        top = QHBoxLayout()
        top.addWidget(site_box, 1)
        top.addWidget(user_box, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Demo site</h2>"))
        layout.addLayout(top)
        layout.addWidget(log_box, 1)

        session.ca_changed.connect(self.refresh)
        session.certificates_changed.connect(self.refresh)
        self.refresh()
        self._refresh_users()

    # -- state -------------------------------------------------------------------------
    def refresh(self) -> None:
        site = self.session.site
        running = site is not None and site.running
        starting = self._starting is not None
        self.start_button.setEnabled(not running and not starting)
        self.stop_button.setEnabled(running)
        self.port.setEnabled(not running and not starting)
        self.mode.setEnabled(not running and not starting)
        self.bind.setEnabled(not running and not starting)
        self.copy_url.setEnabled(running)
        self.open_url.setEnabled(running)
        if running:
            self.state.setText("Running — students can connect with their bundle")
            self.url.setText(self.session.site_url or "")
        elif starting:
            self.state.setText("Starting…")
            self.url.setText("")
        else:
            ws = self.session.workspace
            if not ws.has_ca():
                hint = "Stopped — create a CA first (Authority)"
            elif not ws.has_server():
                hint = "Stopped — issue a server certificate first (Authority)"
            else:
                hint = "Stopped"
            self.state.setText(hint)
            self.url.setText("")

    def _refresh_users(self) -> None:
        try:
            names = self.session.workspace.users.usernames()
        except ValueError as exc:
            self.users.setText(sentence(str(exc)))
            return
        self.users.setText(", ".join(names) if names else "none yet")

    # -- start / stop ------------------------------------------------------------------
    def start_site(self) -> None:
        if self._starting is not None or (self.session.site is not None and self.session.site.running):
            return
        try:
            host = self.bind.text().strip() or "127.0.0.1"
            config = SiteConfig.from_workspace(
                self.session.workspace, host=host, port=self.port.value(), mode=str(self.mode.currentData())
            )
        except (SiteError, OSError) as exc:
            self.session.messages.error("The demo site cannot start", sentence(str(exc)))
            return
        site = DemoSite(config)
        site.events.subscribe(self._on_site_event)
        self._starting = site
        self.refresh()
        self.session.tasks.run(
            site.start,
            on_success=lambda url: self._started(site, url),
            on_failure=lambda message: self._start_failed(site, message),
            owner=self,
            label="start site",
        )

    def _started(self, site: DemoSite, url: str) -> None:
        self._starting = None
        self.session.site = site
        self.session.site_url = url
        self.refresh()
        self.session.site_changed.emit()

    def _start_failed(self, site: DemoSite, message: str) -> None:
        site.events.unsubscribe(self._on_site_event)
        self._starting = None
        self.refresh()
        self.session.messages.error("The demo site did not start", sentence(message))

    def stop_site(self) -> None:
        site = self.session.site
        if site is None:
            return
        self.stop_button.setEnabled(False)
        self.state.setText("Stopping…")

        def stopped(_result: object = None) -> None:
            site.events.unsubscribe(self._on_site_event)
            self.session.site = None
            self.session.site_url = None
            self.refresh()
            self.session.site_changed.emit()

        def failed(message: str) -> None:
            stopped()
            self.session.messages.error("The demo site did not stop cleanly", sentence(message))

        self.session.tasks.run(site.stop, on_success=stopped, on_failure=failed, owner=self, label="stop site")

    def shutdown(self) -> None:
        """Stop the site now, on this thread (the window is closing)."""
        for site in (self.session.site, self._starting):
            if site is not None:
                site.events.unsubscribe(self._on_site_event)
                site.stop()
        self.session.site = None
        self.session.site_url = None
        self._starting = None

    # -- events ----------------------------------------------------------------------------
    def _on_site_event(self, event: Event) -> None:
        # Called on a server thread: only emit, never touch widgets here.
        self._relay.site_event.emit(event)

    @Slot(object)
    def _append_event(self, event: Event) -> None:
        stamp = event.time.astimezone().strftime("%H:%M:%S")
        item = QListWidgetItem(f"{stamp}  {event.kind:<22} {event.message}")
        if any(word in event.kind for word in _BAD_KINDS):
            item.setForeground(QBrush(QColor(tone(Tone.BAD))))
        if event.fields:
            item.setToolTip("\n".join(f"{k}: {v}" for k, v in event.fields.items()))
        self.log.addItem(item)
        while self.log.count() > MAX_LOG_LINES:
            self.log.takeItem(0)
        self.log.scrollToBottom()

    # -- demo user ---------------------------------------------------------------------------
    def remove_user(self) -> None:
        username = self.username.text().strip()
        store = self.session.workspace.users
        try:
            if username not in store.usernames():
                self.session.messages.error("No such login", f"There is no login {username!r} to remove.")
                return
            store.remove(username)
        except (OSError, ValueError) as exc:
            self.session.messages.error("Login not removed", sentence(str(exc)))
            return
        if self.session.demo_user is not None and self.session.demo_user.name == username:
            self.session.demo_user = None
            self.session.demo_user_changed.emit()
        self.user_note.setText(f"Removed <b>{escape(username)}</b>; anyone logged in with it is logged out.")
        self._refresh_users()

    def save_user(self) -> None:
        username, password = self.username.text().strip(), self.password.text()
        try:
            check_username(username)
        except ValueError as exc:
            self.session.messages.error("Username not accepted", sentence(str(exc)))
            return
        store = self.session.workspace.users
        self.save_user_button.setEnabled(False)

        def saved(_result: object) -> None:
            self.save_user_button.setEnabled(True)
            self.session.demo_user = Credentials(username, password)
            self.password.clear()
            self.user_note.setText(
                f"Saved <b>{username}</b>. Password: <code>{escape(password)}</code> — note it now; "
                "only a hash is stored."
            )
            self._refresh_users()
            self.session.demo_user_changed.emit()

        def failed(message: str) -> None:
            self.save_user_button.setEnabled(True)
            self.session.messages.error("User not saved", sentence(message))

        # scrypt hashing takes a noticeable moment: off the GUI thread.
        self.session.tasks.run(
            lambda: store.set_password(username, password), on_success=saved, on_failure=failed,
            owner=self, label="set demo user",
        )
