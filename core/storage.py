"""Atomic, permission-aware file writes.

Every file mTLS Lab writes goes through :func:`atomic_write`: the bytes land in a
temporary file in the same folder, are flushed to disk, and replace the target in
one ``os.replace``. A crash leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE = 0o600  # keys, bundles, password files: owner only
PUBLIC = 0o644  # certificates meant to be handed out


def atomic_write(path: Path, data: bytes, *, mode: int = PRIVATE, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    The temporary file is created with ``mode`` already set, so a private file
    is never readable by others, not even for a moment.

    Args:
        exclusive: never replace an existing ``path``, even one another process creates at
            the same moment: the name is claimed first with ``O_EXCL`` (an empty file until the
            data replaces it), so of two writers exactly one succeeds.

    Raises:
        FileExistsError: ``exclusive`` and ``path`` exists.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    claimed = False
    if exclusive:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        claimed = True
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if claimed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # our own empty claim: nobody else could have written there
        raise
    _fsync_dir(path.parent)


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it owner-only."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
