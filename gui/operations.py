"""Run slow work off the GUI thread and hear back on it, in the manner of Anki's ``aqt/operations``.

A callable runs on :class:`QThreadPool`; its result or exception is delivered by a
queued Qt signal, so callbacks always run on the GUI thread and may touch widgets.
The callable itself must never touch a widget. Exceptions become readable messages
(:func:`describe`), never tracebacks.

Usage::

    tasks.run(lambda: workspace.load_ca(passphrase), on_success=self._loaded, on_failure=self._show_error)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> str:
    """A one-line message for the user: the exception's own words, or its kind when it has none."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and text.startswith("'"):
        text = text.strip("'")
    return text or f"{type(exc).__name__} (no details)"


class _Relay(QObject):
    """Lives on the GUI thread; the worker emits on it, so delivery is queued to the GUI thread."""

    done = Signal(object, object)  # result, exception (one of them is None)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # every failure becomes a message on the GUI thread
            self._relay.done.emit(None, exc)
        else:
            self._relay.done.emit(result, None)


class Operation(QObject):
    """One piece of work in flight. ``succeeded``/``failed`` fire on the GUI thread, then ``finished``."""

    succeeded = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(
        self,
        fn: Callable[[], Any],
        *,
        on_success: Callable[[Any], object] | None = None,
        on_failure: Callable[[str], object] | None = None,
        owner: QObject | None = None,
        label: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self._fn = fn
        self._on_success = on_success
        self._on_failure = on_failure
        self._owner = owner
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver)
        self.error: BaseException | None = None

    def start(self, pool: QThreadPool) -> None:
        pool.start(_Job(self._fn, self._relay))

    def _owner_alive(self) -> bool:
        return self._owner is None or shiboken6.isValid(self._owner)

    @Slot(object, object)
    def _deliver(self, result: object, error: object) -> None:
        try:
            if isinstance(error, BaseException):
                self.error = error
                message = describe(error)
                log.info("%s failed: %s", self.label or "operation", message)
                if self._on_failure is not None and self._owner_alive():
                    self._on_failure(message)
                self.failed.emit(message)
            else:
                if self._on_success is not None and self._owner_alive():
                    self._on_success(result)
                self.succeeded.emit(result)
        finally:
            self.finished.emit()


class TaskManager(QObject):
    """Starts operations and keeps them referenced until they finish (so they are not garbage-collected).

    ``idle`` fires whenever the last running operation has finished; tests wait on it.
    """

    started = Signal(str)
    idle = Signal()

    def __init__(self, parent: QObject | None = None, *, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self._running: set[Operation] = set()

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def run(
        self,
        fn: Callable[[], Any],
        *,
        on_success: Callable[[Any], object] | None = None,
        on_failure: Callable[[str], object] | None = None,
        owner: QObject | None = None,
        label: str = "",
    ) -> Operation:
        """Run ``fn`` on a worker thread; ``on_success(result)`` or ``on_failure(message)`` run on the GUI thread.

        Args:
            fn: the slow work. It must not touch widgets.
            on_success, on_failure: GUI-thread callbacks; skipped when ``owner`` has been deleted meanwhile.
            owner: the widget the callbacks belong to.
            label: a short name for logs.
        """
        op = Operation(fn, on_success=on_success, on_failure=on_failure, owner=owner, label=label, parent=self)
        self._running.add(op)
        # A slot using sender(), not a lambda holding ``op``: a closure over the operation connected to
        # its own signal makes a reference cycle that PySide cannot break safely when the parent dies.
        op.finished.connect(self._forget)
        self.started.emit(label)
        op.start(self._pool)
        return op

    @Slot()
    def _forget(self) -> None:
        op = self.sender()
        if not isinstance(op, Operation):
            return
        self._running.discard(op)
        op.deleteLater()
        if not self._running:
            self.idle.emit()

    def wait_for_workers(self, msecs: int = 30_000) -> bool:
        """Block until every worker thread is done (used when the window closes)."""
        return bool(self._pool.waitForDone(msecs))
