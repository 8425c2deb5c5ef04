"""Import the CA and a bundle into an NSS database (Firefox and Chromium on Linux) with certutil/pk12util.

The bundle password goes to pk12util in a file inside a private temporary folder,
never on the command line.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.bundles import BundleError, read_p12


class NssError(RuntimeError):
    """The import failed; the message says why in plain words."""


@dataclass(frozen=True)
class NssProfile:
    """An NSS database a student's browser uses."""

    label: str
    path: Path


def tools_available() -> bool:
    return shutil.which("certutil") is not None and shutil.which("pk12util") is not None


def find_profiles(home: Path | None = None) -> list[NssProfile]:
    """Chromium's shared database and every Firefox profile that has one."""
    home = home or Path.home()
    found: list[NssProfile] = []
    chromium = home / ".pki" / "nssdb"
    if (chromium / "cert9.db").exists():
        found.append(NssProfile("Chromium / Chrome (~/.pki/nssdb)", chromium))
    for base in (home / ".mozilla" / "firefox", home / "snap" / "firefox" / "common" / ".mozilla" / "firefox"):
        if base.is_dir():
            for profile in sorted(base.iterdir()):
                if (profile / "cert9.db").exists():
                    found.append(NssProfile(f"Firefox profile {profile.name}", profile))
    return found


def import_into_nss(db: Path, *, ca_cert: Path, ca_name: str, bundle: Path, bundle_password: str,
                    create: bool = False) -> None:
    """Trust ``ca_cert`` for web sites and import ``bundle`` as a personal certificate.

    Args:
        db: the NSS database folder (holds cert9.db).
        ca_cert: the CA certificate (PEM or DER).
        ca_name: the nickname shown in the browser's certificate manager.
        bundle: the student's .p12.
        bundle_password: its password.
        create: create an empty database (no master password) when there is none.

    Raises:
        NssError: the tools are missing or an import failed (wrong password, not a bundle, locked database).
    """
    certutil, pk12util = shutil.which("certutil"), shutil.which("pk12util")
    if certutil is None or pk12util is None:
        raise NssError("certutil and pk12util are not installed (Debian/Ubuntu: sudo apt install libnss3-tools)")
    try:  # check the password ourselves: pk12util's own error for it is "invalid arguments"
        read_p12(Path(bundle), bundle_password)
    except BundleError as exc:
        raise NssError(str(exc)) from exc
    db = Path(db)
    if not (db / "cert9.db").exists():
        if not create:
            raise NssError(f"{db} has no certificate database (cert9.db); start the browser once first")
        db.mkdir(parents=True, exist_ok=True)
        _run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], "create the database")
    _run([certutil, "-A", "-d", f"sql:{db}", "-n", ca_name, "-t", "C,,", "-i", str(ca_cert)], "trust the CA")
    with tempfile.TemporaryDirectory(prefix="mtlslab-nss-") as tmp:
        pw = Path(tmp) / "bundle.pw"
        pw.write_text(bundle_password, encoding="utf-8")
        empty = Path(tmp) / "db.pw"
        empty.write_text("", encoding="utf-8")
        _run([pk12util, "-i", str(bundle), "-d", f"sql:{db}", "-w", str(pw), "-k", str(empty)], "import the bundle")


def _run(argv: list[str], what: str) -> None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NssError(f"could not {what}: {exc}") from exc
    if out.returncode != 0:
        text = (out.stderr or out.stdout).strip().splitlines()
        detail = text[-1] if text else f"exit status {out.returncode}"
        raise NssError(f"could not {what}: {detail}")
