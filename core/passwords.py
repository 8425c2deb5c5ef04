"""Generated passwords and salted password hashes (scrypt)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# No 0/O, 1/l/I: students copy these passwords from a printed handout.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS = 4
_GROUP_LEN = 5  # 20 symbols from 31: about 99 bits of entropy

# scrypt parameters: n=2**14, r=8 costs about 16 MiB and ~50 ms, the
# interactive-login setting recommended by the scrypt paper.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCHEME = "scrypt"


def generate_password() -> str:
    """A readable, high-entropy password like ``k7mpq-x2hra-...``."""
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LEN)) for _ in range(_GROUPS))
    return "-".join(groups)


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of ``password`` as a self-describing string.

    Raises:
        ValueError: the password is empty.
    """
    if not password:
        raise ValueError("the password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, maxmem=64 * 1024 * 1024
    )
    enc = base64.b64encode
    return f"{_SCHEME}${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${enc(salt).decode()}${enc(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Check ``password`` against a hash from :func:`hash_password`, in constant time."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != _SCHEME:
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), maxmem=64 * 1024 * 1024
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


@functools.cache
def dummy_hash() -> str:
    """A valid hash of a random password, checked when a user does not exist so that an unknown
    username takes as long as a wrong password (no enumeration by timing).

    Made on first use, not at import: one scrypt costs ~50 ms, and every command and roster
    worker process imports this module.
    """
    return hash_password(secrets.token_urlsafe(16))
