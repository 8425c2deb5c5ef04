"""Login sessions bound to the client certificate, and login throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

SESSION_LIFETIME = 30 * 60  # seconds; a lesson's exercise, not a day
MAX_FAILURES = 5  # failed logins per certificate before a pause
# Per username the limit is twice the per-certificate one: one attacker's certificate is paused
# long before the account it guesses at, so a single classmate cannot lock a student out; it
# takes at least two certificates (whose holders the event log names) to pause an account.
MAX_FAILURES_PER_USER = 2 * MAX_FAILURES
# Per client address the limit is higher: a classroom behind one NAT address shares it,
# but one machine cycling through many certificates is still slowed down.
MAX_FAILURES_PER_ADDRESS = 30
LOCKOUT_SECONDS = 60


@dataclass(frozen=True)
class Session:
    username: str
    fingerprint: str
    expires: float


class SessionStore:
    """Server-side sessions: the cookie is a random 256-bit token and its HMAC, nothing else.

    The session itself (user, certificate fingerprint, expiry) stays on the
    server, so expiry and logout are enforced here, not by the browser. A
    session is valid only with the certificate it was created with, so a
    cookie copied to another browser (another certificate) is worthless. The
    signature lets a forged or truncated cookie be refused before any lookup.
    """

    def __init__(self, lifetime: float = SESSION_LIFETIME) -> None:
        self._lifetime = lifetime
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def _sign(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def _verified(self, cookie: str | None) -> str | None:
        """The token of a cookie whose signature is right, else None."""
        if not cookie or "." not in cookie:
            return None
        token, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), self._sign(token).encode()):
            return None
        return token

    def create(self, username: str, fingerprint: str) -> str:
        """Start a session and return the cookie value."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._purge()
            self._sessions[token] = Session(username, fingerprint, time.monotonic() + self._lifetime)
        return f"{token}.{self._sign(token)}"

    def get(self, cookie: str | None, fingerprint: str) -> Session | None:
        token = self._verified(cookie)
        if token is None:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires <= time.monotonic():
                del self._sessions[token]
                return None
        if not hmac.compare_digest(session.fingerprint.encode(), fingerprint.encode()):
            return None
        return session

    def end(self, cookie: str | None) -> None:
        token = self._verified(cookie)
        if token:
            with self._lock:
                self._sessions.pop(token, None)

    def _purge(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[token]


class Throttle:
    """Counts login attempts per key (the certificate, the username tried).

    An attempt is counted *before* the password is checked (``try_acquire``), so
    parallel guesses cannot slip past the limit, and only a correct password gives
    its own attempt back (``succeeded``): logging in as yourself never wipes the
    count of failures against someone else's account.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, lockout: float = LOCKOUT_SECONDS) -> None:
        self._max = max_failures
        self._lockout = lockout
        self._lock = threading.Lock()
        self._attempts: dict[str, list[float]] = {}

    def try_acquire(self, *keys: str) -> bool:
        """Count one attempt for every key; False (nothing counted) when any key is locked out."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                recent = [t for t in self._attempts.get(key, []) if now - t < self._lockout]
                self._attempts[key] = recent
                if len(recent) >= self._max:
                    return False
            for key in keys:
                self._attempts[key].append(now)
            return True

    @staticmethod
    def acquire_all(*limits: tuple[Throttle, str]) -> bool:
        """Count one attempt for each ``(throttle, key)``; when any is locked out, give back the ones
        already counted and return False."""
        taken: list[tuple[Throttle, str]] = []
        for throttle, key in limits:
            if not throttle.try_acquire(key):
                for done, done_key in taken:
                    done.succeeded(done_key)
                return False
            taken.append((throttle, key))
        return True

    def succeeded(self, *keys: str) -> None:
        """Give back the attempt a correct password used."""
        with self._lock:
            for key in keys:
                attempts = self._attempts.get(key)
                if attempts:
                    attempts.pop()
