"""What the window shares between its areas for one run: the workspace, the unlocked CA, the site.

The unlocked :class:`~core.authority.Authority` (and so the CA key) lives only in
memory and only for this session; it is never written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from core.authority import Authority
from core.workspace import Workspace
from embedded_server.site import DemoSite
from gui.messages import Messages, sentence
from gui.operations import TaskManager

CRL_CHECK_MS = 60 * 60 * 1000  # hourly: the CRL is re-signed when less than 15 days of its 30 are left


@dataclass(frozen=True)
class Credentials:
    """A login or bundle password the user chose in this session, to pre-fill Test Connection."""

    name: str
    password: str
    path: Path | None = None


class Session(QObject):
    """Shared state with change signals; widgets listen instead of calling each other."""

    ca_changed = Signal()
    certificates_changed = Signal()
    site_changed = Signal()  # started or stopped
    demo_user_changed = Signal()
    bundle_issued = Signal()

    def __init__(self, workspace: Workspace, messages: Messages, tasks: TaskManager,
                 parent: QObject | None = None) -> None:
        # A parent (the window) owns it on the Qt side, so it and its timer are destroyed on the GUI
        # thread with the window, never by Python's garbage collector on a worker thread.
        super().__init__(parent)
        self.workspace = workspace
        self.messages = messages
        self.tasks = tasks
        self.authority: Authority | None = None
        self.site: DemoSite | None = None
        self.site_url: str | None = None
        self.demo_user: Credentials | None = None
        self.last_bundle: Credentials | None = None
        # While the CA is unlocked, keep the CRL from going stale: the site enforces it, and a
        # CRL past its nextUpdate makes the site refuse every student (core/revocation.py).
        self.crl_timer = QTimer(self)
        self.crl_timer.setInterval(CRL_CHECK_MS)
        self.crl_timer.timeout.connect(self.refresh_crl)
        self.ca_changed.connect(self._watch_crl)

    def _watch_crl(self) -> None:
        if self.authority is None:
            self.crl_timer.stop()
        elif not self.crl_timer.isActive():
            self.crl_timer.start()

    def refresh_crl(self) -> None:
        """Re-sign the CRL on a worker if it is close to its nextUpdate (needs the unlocked CA)."""
        authority = self.authority
        if authority is None:
            return
        self.tasks.run(lambda: self.workspace.refresh_crl(authority),
                       on_failure=lambda msg: self.messages.error("Cannot re-sign the revocation list", sentence(msg)),
                       label="refresh CRL")

    def set_authority(self, authority: Authority) -> None:
        self.authority = authority
        self.ca_changed.emit()

    def with_authority(self, then: Callable[[Authority], None], *, parent: object = None) -> None:
        """Call ``then(authority)`` once the CA is unlocked, asking the passphrase the first time.

        The key is decrypted on a worker; a wrong passphrase shows an error and nothing else happens.
        """
        if self.authority is not None:
            then(self.authority)
            return
        passphrase = self.messages.ask_passphrase()
        if passphrase is None:
            return

        def unlocked(authority: Authority) -> None:
            self.authority = authority
            self.ca_changed.emit()
            then(authority)

        self.tasks.run(
            lambda: self.workspace.load_ca(passphrase),
            on_success=unlocked,
            on_failure=lambda msg: self.messages.error("Cannot unlock the CA", sentence(msg)),
            label="unlock CA",
        )

