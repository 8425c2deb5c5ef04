"""What the window shares between its areas for one run: the workspace, the unlocked CA, the site.

The unlocked :class:`~core.authority.Authority` (and so the CA key) lives only in
memory and only for this session; it is never written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.authority import Authority
from core.workspace import Workspace
from embedded_server.site import DemoSite
from gui.messages import Messages, sentence
from gui.operations import TaskManager


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

    def __init__(self, workspace: Workspace, messages: Messages, tasks: TaskManager) -> None:
        super().__init__()
        self.workspace = workspace
        self.messages = messages
        self.tasks = tasks
        self.authority: Authority | None = None
        self.site: DemoSite | None = None
        self.site_url: str | None = None
        self.demo_user: Credentials | None = None
        self.last_bundle: Credentials | None = None

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

