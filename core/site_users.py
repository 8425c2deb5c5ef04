"""The demo site's users (the knowledge factor), stored as salted scrypt hashes."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from core.passwords import dummy_hash, hash_password, verify_password
from core.storage import PRIVATE, atomic_write

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_LENGTH = 8


def check_username(username: str) -> str:
    """Raises: ValueError when the name has characters other than letters, digits and ``. _ @ -``."""
    if not _USERNAME.match(username):
        raise ValueError(
            "a username is 1 to 64 letters, digits, dots, dashes, underscores or @ (no spaces)"
        )
    return username


class UserStore:
    """A JSON file of ``username -> scrypt hash``; re-read when it changes on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self._mtime: int | None = None

    def _load(self) -> dict[str, str]:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if mtime != self._mtime:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                users = data["users"]
                if not isinstance(users, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError, RecursionError, OSError) as exc:
                # RecursionError: deeply nested JSON; OSError: a folder or an unreadable file in its place.
                raise ValueError(f"the user file {self.path} is damaged") from exc
            self._cache = {str(k): str(v) for k, v in users.items()}
            self._mtime = mtime
        return self._cache

    def usernames(self) -> list[str]:
        with self._lock:
            return sorted(self._load())

    def set_password(self, username: str, password: str) -> None:
        """Add the user or change their password.

        Raises:
            ValueError: the username or password is not acceptable.
        """
        check_username(username)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
        hashed = hash_password(password)
        with self._lock:
            users = dict(self._load())
            users[username] = hashed
            self._save(users)

    def remove(self, username: str) -> None:
        with self._lock:
            users = dict(self._load())
            users.pop(username, None)
            self._save(users)

    def verify(self, username: str, password: str) -> bool:
        """True when the password is right. An unknown user costs the same time as a wrong password."""
        with self._lock:
            stored = self._load().get(username)
        if stored is None:
            verify_password(password, dummy_hash())
            return False
        return verify_password(password, stored)

    def _save(self, users: dict[str, str]) -> None:
        data = json.dumps({"version": 1, "users": users}, indent=2, sort_keys=True).encode()
        atomic_write(self.path, data, mode=PRIVATE)
        self._mtime = None
