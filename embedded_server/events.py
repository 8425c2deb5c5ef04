"""Structured events of the demo site: kept in memory and, optionally, appended as JSON lines."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Event:
    kind: str  # connection-accepted, connection-refused, login-ok, login-failed, page, site-started, ...
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def to_json(self) -> str:
        return json.dumps({"time": self.time.isoformat(), "kind": self.kind, "message": self.message, **self.fields})


# A flood of refused connections writes one line each; the file must not fill the disk.
# When it passes this size it becomes ``events.jsonl.1`` (replacing the previous one),
# so the log never takes more than about twice this.
MAX_FILE_BYTES = 5 * 1024 * 1024


class EventLog:
    """The last ``capacity`` events, listeners called on every new one, and an optional JSONL file.

    The file is rotated once it exceeds ``max_file_bytes``: at most the current
    file and one previous one (``<name>.1``) exist.
    """

    def __init__(self, *, capacity: int = 2000, path: Path | None = None,
                 max_file_bytes: int = MAX_FILE_BYTES) -> None:
        self._events: collections.deque[Event] = collections.deque(maxlen=capacity)
        self._listeners: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._max_file_bytes = max_file_bytes
        self._folder_made = False
        self.path = path

    @property
    def rotated_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".1")

    def emit(self, kind: str, message: str, **fields: Any) -> Event:
        event = Event(kind, message, fields)
        with self._lock:
            self._events.append(event)
            listeners = list(self._listeners)
            if self.path is not None:
                try:
                    if not self._folder_made:
                        self.path.parent.mkdir(parents=True, exist_ok=True)
                        self._folder_made = True
                    # Owner-only: the log names students and the usernames they typed.
                    fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                    with os.fdopen(fd, "a", encoding="utf-8") as fh:
                        fh.write(event.to_json() + "\n")
                        size = fh.tell()
                    if size > self._max_file_bytes:
                        rotated = self.rotated_path
                        assert rotated is not None
                        os.replace(self.path, rotated)
                except OSError:
                    # A full disk must not take the site down; the in-memory log still has it.
                    self._folder_made = False  # the folder may have been removed: make it again next time
        for listener in listeners:
            listener(event)
        return event

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def recent(self) -> list[Event]:
        with self._lock:
            return list(self._events)
