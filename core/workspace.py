"""A workspace folder: the CA, the server certificate, the bundles and the registry.

Layout (documented in docs/workspace.md)::

    ca/ca.crt            issuing CA certificate (+ root with an intermediate), 0644
    ca/root.crt, root.key  the root and its key, only with an intermediate (move root.key offline)
    ca/ca.key            CA private key, PKCS#8 encrypted with the CA passphrase, 0600
    ca/crl.pem, crl.der  the certificate revocation list, re-signed at each revocation
    server/server.crt    demo site certificate chain (leaf + CA), 0644
    server/server.key    demo site key, encrypted with secrets/server-key.pass, 0600
    clients/NAME.p12     student bundles (password-protected), 0600
    clients/NAME.crt     the bundle's certificate, 0644
    secrets/             generated passwords, shown once and kept owner-only (0700)
    site/users.json      demo site users, scrypt hashes, 0600
    registry.sqlite3     every issued certificate
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.authority import Authority, Issued, create_intermediate_ca, create_root_ca
from core.bundles import BundleProfile, check_bundle_password, encode_p12
from core.keys import KeyType, PrivateKey, key_type_of
from core.profiles import CA_DEFAULT_DAYS, CLIENT_DEFAULT_DAYS, SERVER_DEFAULT_DAYS
from core.registry import Record, Registry
from core.revocation import ROOT_CRL_VALIDITY, build_crl, crl_is_fresh, crl_number_of, crl_pem_der, parse_reason
from core.site_users import UserStore
from core.storage import PRIVATE, PUBLIC, atomic_write, make_private_dir

MIN_PASSPHRASE_LENGTH = 8

# Tests set this to simulate a crash between the steps of a write ("row-added",
# "bundle-written", "cert-written"): raising, or os._exit() in a child process.
crash_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if crash_hook is not None:
        crash_hook(name)


class WorkspaceError(ValueError):
    """Something about the workspace is not as the operation needs it."""


class WrongPassphraseError(WorkspaceError):
    pass


@dataclass(frozen=True)
class IssuedBundle:
    name: str
    bundle_path: Path
    cert_path: Path
    certificate: x509.Certificate


def slugify(name: str) -> str:
    """Turn a person's name into a safe file name stem (no path tricks, no dot files).

    Raises:
        ValueError: nothing usable is left of the name.
    """
    # Letters NFKD does not take apart (ø, ł, ß...) would vanish in the ASCII step: Øyvind -> "yvind".
    text = unicodedata.normalize("NFKD", name.translate(_LATIN_LETTERS)).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60].strip("-")
    if not text:
        # A name in another script (Иван Петров, 山田太郎): keep its letters. Every system we
        # hand bundles to stores UTF-8 or UTF-16 file names; separators, dots, controls and
        # bidi marks are not letters, so they still cannot get in.
        nfc = unicodedata.normalize("NFC", name).casefold()
        text = re.sub(r"-+", "-", "".join(ch if ch.isalnum() else "-" for ch in nfc)).strip("-")[:60].strip("-")
    if not text:
        raise ValueError(f"{name!r} has no letters or digits to make a file name from")
    if text.upper() in _WINDOWS_RESERVED:
        text += "-student"  # "con.p12" cannot be created on Windows, whatever the extension
    return text


_LATIN_LETTERS = str.maketrans({
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "ħ": "h", "Ħ": "H", "ŧ": "t", "Ŧ": "T",
})

# Device names Windows reserves in every folder, with any extension.
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


class Workspace:
    """One CA and everything it issued, in a folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.ca_cert_path = self.root / "ca" / "ca.crt"
        self.ca_key_path = self.root / "ca" / "ca.key"
        self.ca_chain_path = self.root / "ca" / "chain.crt"  # CAs above an intermediate, nearest first
        self.root_cert_path = self.root / "ca" / "root.crt"  # only with an intermediate
        self.root_key_path = self.root / "ca" / "root.key"  # move it offline once the intermediate exists
        self.root_crl_path = self.root / "ca" / "root-crl.pem"  # the root's CRL, only with an intermediate
        self.crl_pem_path = self.root / "ca" / "crl.pem"
        self.crl_der_path = self.root / "ca" / "crl.der"
        self.server_cert_path = self.root / "server" / "server.crt"
        self.server_key_path = self.root / "server" / "server.key"
        self.clients_dir = self.root / "clients"
        self.secrets_dir = self.root / "secrets"
        self.server_key_pass_path = self.secrets_dir / "server-key.pass"
        self.users_path = self.root / "site" / "users.json"
        self.registry_path = self.root / "registry.sqlite3"
        self._registry: Registry | None = None
        self._users: UserStore | None = None
        if self.registry_path.is_file():
            # Opening reconciles an interrupted write; a registry that cannot be opened
            # raises again, with its reason, at the first real use.
            with contextlib.suppress(ValueError, sqlite3.Error, OSError):
                self.registry  # noqa: B018

    # -- state -------------------------------------------------------------
    def protected_paths(self) -> tuple[Path, ...]:
        """Folders and files no export may write over: keys, secrets, the registry, the site's logins,
        and every file the registry records (a student's bundle is the only copy of their key)."""
        registry = self.registry_path
        recorded: list[Path] = []
        if registry.is_file():
            recorded = [self.path_of(p) for r in self.registry.list() for p in (r.cert_path, r.bundle_path) if p]
            # A roster's handouts hold the only copy of its passwords.
            folders = {p.parent for p in recorded if p.suffix == ".p12"}
            recorded += [h for folder in folders for h in folder.glob("handout*.csv")]
        return (
            self.root / "ca", self.secrets_dir, self.root / "server", self.users_path.parent,
            registry, *(registry.with_name(registry.name + s) for s in ("-wal", "-shm", "-journal")),
            self.users_path, self.root / ".write.lock", self.root / ".names.lock", *recorded,
        )

    def has_ca(self) -> bool:
        return self.ca_cert_path.is_file() and self.ca_key_path.is_file()

    def has_server(self) -> bool:
        return (
            self.server_cert_path.is_file()
            and self.server_key_path.is_file()
            and self.server_key_pass_path.is_file()
        )

    @property
    def registry(self) -> Registry:
        """The registry, reconciled with the files on first use (see :meth:`reconcile`)."""
        if self._registry is None:
            self.root.mkdir(parents=True, exist_ok=True)
            fresh = not self.registry_path.is_file() or self.registry_path.stat().st_size == 0
            if fresh and self.ca_cert_path.is_file():
                # A new, empty registry over an existing CA would forget every revocation: the
                # next CRL would list none, and revoked students would be let in again.
                raise WorkspaceError(
                    f"the registry {self.registry_path} is missing or empty, but this workspace has a CA; without "
                    "it every revocation would be forgotten. Restore registry.sqlite3 from a backup (mTLS Lab does "
                    "not start a new one over an existing CA)"
                )
            registry = Registry(self.registry_path)
            if self.ca_cert_path.is_file():
                # A blank database, or another workspace's registry, would pass the size check and
                # then sign a CRL without this CA's revocations.
                serial = format(self.ca_certificate().serial_number, "X")
                try:
                    known = registry.get(serial).kind == "ca"
                except KeyError:
                    known = False
                if not known:
                    raise WorkspaceError(
                        f"the registry {self.registry_path} does not belong to this workspace's CA (it has no "
                        f"row for the CA {serial}); restore this workspace's registry.sqlite3 from a backup"
                    )
            self._registry = registry
            self.reconcile()
        return self._registry

    def reconcile(self) -> list[str]:
        """Finish or roll back writes a crash interrupted, so rows and files agree again.

        A row is added ``pending`` before its files are written and marked done after
        them. A pending row whose files are all in place (the crash came after the last
        rename) is marked done; otherwise its partial files are removed and the row
        forgotten: that certificate never left the machine.

        Returns:
            The serials rolled back.
        """
        registry = self.registry
        rolled_back: list[str] = []
        with self._write_lock(exclusive=True) as got:
            if not got:  # another process is writing right now: its rows are not abandoned
                return rolled_back
            rolled_back = self._roll_back(registry)
        return rolled_back

    @contextlib.contextmanager
    def _write_lock(self, *, exclusive: bool = False) -> Iterator[bool]:
        """Writers hold it shared; reconciling needs it alone (the OS drops it when a process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".write.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def _roll_back(self, registry: Registry) -> list[str]:
        rolled_back: list[str] = []
        for rec in registry.pending():
            cert_file = self.path_of(rec.cert_path) if rec.cert_path else None
            bundle_file = self.path_of(rec.bundle_path) if rec.bundle_path else None
            complete = cert_file is not None and _cert_file_has(cert_file, rec.fingerprint_sha256)
            if complete and bundle_file is not None:
                complete = bundle_file.is_file()
            if complete:
                registry.mark_done(rec.serial)
                continue
            if rec.kind == "client":  # client files are new files, never shared with another row
                for f in (bundle_file, cert_file):
                    if f is not None:
                        _remove_with_temporaries(f)
            registry.discard(rec.serial)
            rolled_back.append(rec.serial)
        return rolled_back

    def path_of(self, stored: str) -> Path:
        """The file a registry path names (relative to the workspace, or absolute for roster folders)."""
        p = Path(stored)
        return p if p.is_absolute() else self.root / p

    @property
    def users(self) -> UserStore:
        """The demo site's logins (one store per workspace object, so its lock covers every use)."""
        if self._users is None:
            if self.root.is_dir():
                self.site_dir()
            self._users = UserStore(self.users_path)
        return self._users

    def site_dir(self) -> Path:
        """``site/`` (logins and the event log), created owner-only; an existing one keeps its mode."""
        folder = self.users_path.parent
        if not folder.is_dir():
            make_private_dir(folder)
        return folder

    def ca_certificate(self) -> x509.Certificate:
        """Raises: WorkspaceError when there is no CA yet."""
        if not self.ca_cert_path.is_file():
            raise WorkspaceError(f"there is no CA in {self.root} yet; create one first")
        try:
            return x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())
        except ValueError:
            raise WorkspaceError(f"the CA certificate {self.ca_cert_path} is damaged (not a PEM certificate); "
                                 "restore it from a backup") from None

    # -- CA ------------------------------------------------------------------
    def create_ca(
        self,
        *,
        common_name: str,
        passphrase: str,
        organization: str | None = None,
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = CA_DEFAULT_DAYS,
        intermediate: bool = False,
    ) -> Authority:
        """Create the workspace's CA and store its key encrypted with ``passphrase``.

        Args:
            intermediate: create a root (``ca/root.crt``, key ``ca/root.key`` to be moved offline)
                and an intermediate below it that does the issuing (``ca/ca.crt`` then holds the
                intermediate followed by the root, so every verifier finds the whole path).

        Returns:
            The issuing CA (the intermediate when one is made).

        Raises:
            WorkspaceError: a CA already exists here.
            ValueError: the passphrase or a name is not acceptable.
        """
        check_passphrase(passphrase)
        if self.ca_cert_path.exists() or self.ca_key_path.exists():
            raise WorkspaceError(f"{self.root} already has a CA; open it instead of creating a new one")
        root = create_root_ca(
            common_name=common_name if not intermediate else f"{common_name} Root"[:64],
            organization=organization, key_type=key_type, valid_days=valid_days,
            allow_intermediate=intermediate,
        )
        authority = root
        if intermediate:
            authority = create_intermediate_ca(root, common_name=common_name, organization=organization,
                                               key_type=key_type, valid_days=valid_days - 1)
        made_folder = not (self.root / "ca").exists()
        make_private_dir(self.root / "ca")
        _ = self.registry  # opened (made) before the CA files exist: see the registry property
        written = [self.ca_key_path, self.ca_cert_path, self.crl_pem_path, self.crl_der_path]
        try:
            if intermediate:
                written += [self.root_key_path, self.root_cert_path, self.ca_chain_path, self.root_crl_path]
                atomic_write(self.root_key_path, _encrypted_key(root.key, passphrase), mode=PRIVATE)
                atomic_write(self.root_cert_path, _pem(root.certificate), mode=PUBLIC)
                atomic_write(self.ca_chain_path, _pem(root.certificate), mode=PUBLIC)
            # Key first: a certificate without its key would look like a usable CA.
            atomic_write(self.ca_key_path, _encrypted_key(authority.key, passphrase), mode=PRIVATE)
            atomic_write(self.ca_cert_path, b"".join(_pem(c) for c in authority.chain_to_root()), mode=PUBLIC)
            if intermediate:
                self.registry.add(root.certificate, kind="ca", cert_path=self._rel(self.root_cert_path))
            self.registry.add(authority.certificate, kind="ca", cert_path=self._rel(self.ca_cert_path))
            if intermediate:
                self._publish_root_crl(root)
            self.publish_crl(authority)
        except BaseException:
            for p in written:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            if made_folder:
                with contextlib.suppress(OSError):
                    (self.root / "ca").rmdir()  # only when empty
            raise
        return authority

    def trust_anchor(self) -> x509.Certificate:
        """The certificate students import as a trusted authority: the root."""
        if self.root_cert_path.is_file():
            return x509.load_pem_x509_certificate(self.root_cert_path.read_bytes())
        return self.ca_certificate()

    def import_ca(self, authority: Authority, *, passphrase: str) -> Authority:
        """Make an existing CA (see :mod:`core.importer`) this workspace's CA.

        The key is stored encrypted with ``passphrase`` like a created CA's; a chain
        above an imported intermediate goes into ``ca/chain.crt``.

        Raises:
            WorkspaceError: a CA already exists here.
            ValueError: the passphrase is too short.
        """
        check_passphrase(passphrase)
        if self.ca_cert_path.exists() or self.ca_key_path.exists():
            raise WorkspaceError(f"{self.root} already has a CA; import into a new, empty folder")
        make_private_dir(self.root / "ca")
        _ = self.registry  # opened (made) before the CA files exist: see the registry property
        key_pem = authority.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        atomic_write(self.ca_key_path, key_pem, mode=PRIVATE)
        try:
            if authority.chain:
                atomic_write(self.ca_chain_path, b"".join(_pem(c) for c in authority.chain), mode=PUBLIC)
            atomic_write(self.ca_cert_path, b"".join(_pem(c) for c in authority.chain_to_root()), mode=PUBLIC)
            with contextlib.suppress(ValueError):  # re-importing a CA this registry already knows
                self.registry.add(authority.certificate, kind="ca", cert_path=self._rel(self.ca_cert_path))
            self.publish_crl(authority)
        except BaseException:
            for p in (self.ca_cert_path, self.ca_key_path, self.ca_chain_path, self.crl_pem_path, self.crl_der_path):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            raise
        return authority

    def load_ca(self, passphrase: str) -> Authority:
        """Decrypt the CA key.

        Raises:
            WrongPassphraseError: the passphrase does not open the key.
            WorkspaceError: there is no CA, or its files do not match.
        """
        cert = self.ca_certificate()
        if not self.ca_key_path.is_file():
            raise WorkspaceError(f"the CA key {self.ca_key_path} is missing")
        data = self.ca_key_path.read_bytes()
        try:
            key = serialization.load_pem_private_key(data, passphrase.encode())
        except TypeError as exc:  # "Password was given but private key is not encrypted"
            raise WorkspaceError(f"the CA key {self.ca_key_path} is not encrypted, but mTLS Lab only ever stores "
                                 "it encrypted: someone replaced it; restore it from a backup") from exc
        except ValueError as exc:
            if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data and b"Proc-Type: 4,ENCRYPTED" not in data:
                raise WorkspaceError(f"the CA key {self.ca_key_path} is damaged (it is not an encrypted private "
                                     "key); restore it from a backup") from exc
            raise WrongPassphraseError("the CA passphrase is wrong") from exc
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise WorkspaceError("the CA key is of a type mTLS Lab cannot use")
        if _spki(key.public_key()) != _spki(cert.public_key()):
            raise WorkspaceError("the CA key does not belong to the CA certificate")
        chain: tuple[x509.Certificate, ...] = ()
        if self.ca_chain_path.is_file():
            chain = tuple(x509.load_pem_x509_certificates(self.ca_chain_path.read_bytes()))
        authority = Authority(cert, key, chain)
        root_stale = self.root_crl_path.is_file() and not crl_is_fresh(self.root_crl_path.read_bytes())
        if root_stale and self.root_key_path.is_file():
            root_key = serialization.load_pem_private_key(self.root_key_path.read_bytes(), passphrase.encode())
            if isinstance(root_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
                self._publish_root_crl(Authority(self.trust_anchor(), root_key))
        if root_stale or not self.crl_pem_path.is_file() or not crl_is_fresh(self.crl_pem_path.read_bytes()):
            self.publish_crl(authority)
        return authority

    # -- revocation ------------------------------------------------------------
    def refresh_crl(self, authority: Authority) -> bool:
        """Re-sign the CRL when it is missing or has less than the refresh margin left.

        The GUI calls this while the CA is unlocked (every hour), so a site left running
        for weeks never reaches the CRL's nextUpdate, after which it would refuse everyone.

        Returns:
            Whether a new CRL was written.
        """
        if self.crl_pem_path.is_file() and crl_is_fresh(self.crl_pem_path.read_bytes()):
            return False
        self.publish_crl(authority)
        return True

    def publish_crl(self, authority: Authority) -> x509.CertificateRevocationList:
        """Sign a fresh CRL and write it as PEM and DER (the site reloads it within a second).

        With an intermediate, ``crl.pem`` also carries the root's CRL, so verifiers that check
        every CA on the path (nginx's ``ssl_crl``, ``openssl verify -crl_check_all``) find one.
        """
        previous = 0
        with contextlib.suppress(OSError):
            previous = crl_number_of(self.crl_pem_path.read_bytes())
        crl = build_crl(authority, self.registry, previous_number=previous)
        pem, der = crl_pem_der(crl)
        if self.root_crl_path.is_file():
            pem += self.root_crl_path.read_bytes()
        atomic_write(self.crl_der_path, der, mode=PUBLIC)
        atomic_write(self.crl_pem_path, pem, mode=PUBLIC)
        return crl

    def _publish_root_crl(self, root: Authority) -> None:
        crl = build_crl(root, self.registry, validity=ROOT_CRL_VALIDITY, include_revoked=False)
        atomic_write(self.root_crl_path, crl_pem_der(crl)[0], mode=PUBLIC)

    def revoke(self, authority: Authority, serial_or_name: str, *, reason: str = "unspecified") -> Record:
        """Revoke a certificate by serial (hex) or by the client's name, and publish the CRL.

        Raises:
            WorkspaceError: no such certificate, or the name is ambiguous.
            ValueError: the reason is unknown, or it is already revoked.
        """
        flag = parse_reason(reason)
        record = self._find(serial_or_name)
        revoked = self.registry.revoke(record.serial, reason=flag.value)
        self.publish_crl(authority)
        return revoked

    def find(self, serial_or_name: str) -> Record:
        """The certificate with this serial (hex, colons allowed), or the one valid certificate with this name.

        Raises:
            WorkspaceError: none, or several valid certificates share the name.
        """
        return self._find(serial_or_name)

    def certificate_of(self, record: Record, *, chain: bool = False) -> list[x509.Certificate]:
        """A registry row's certificate, followed by its CA chain when ``chain``.

        Raises:
            WorkspaceError: its certificate file is missing or no longer holds it.
        """
        cert = self._load_cert(record)
        if not chain or record.kind == "ca":
            return [cert]
        ca = self.ca_certificate()
        extra = list(x509.load_pem_x509_certificates(self.ca_chain_path.read_bytes())) \
            if self.ca_chain_path.is_file() else []
        return [cert, ca, *extra]

    def _find(self, serial_or_name: str) -> Record:
        text = serial_or_name.strip()
        try:
            return self.registry.get(text.upper().replace(":", ""))
        except KeyError:
            pass
        matches = [r for r in self.registry.list() if same_name(r.common_name, text) and r.status == "valid"]
        if not matches:
            raise WorkspaceError(f"no valid certificate with serial or name {text!r}")
        if len(matches) > 1:
            serials = ", ".join(r.serial for r in matches)
            raise WorkspaceError(f"{len(matches)} valid certificates are named {text!r}; give the serial ({serials})")
        return matches[0]

    def find_for_renewal(self, serial_or_name: str) -> Record:
        """The certificate with this serial, or the newest certificate with this name.

        By name: the newest valid certificate if there is one (a renewal without
        ``revoke_old`` leaves the old one valid beside it), otherwise the newest even when
        revoked or expired (renewing is how a student whose certificate was revoked gets a
        new one). Names match without regard to case.

        Raises:
            WorkspaceError: no such certificate.
        """
        text = serial_or_name.strip()
        try:
            return self.registry.get(text.upper().replace(":", ""))
        except KeyError:
            pass
        named = [r for r in self.registry.list() if same_name(r.common_name, text) and r.kind != "ca"]  # newest first
        valid = [r for r in named if r.status == "valid"]
        if valid:
            return valid[0]
        if named:
            return named[0]
        raise WorkspaceError(f"no certificate with serial or name {text!r}")

    # -- server --------------------------------------------------------------
    def issue_server(
        self,
        authority: Authority,
        *,
        hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = SERVER_DEFAULT_DAYS,
    ) -> x509.Certificate:
        """Issue (or replace) the demo site's certificate; the key is stored encrypted.

        A certificate it replaces is revoked as superseded (its key is gone: the new key
        takes the same file) and its certificate moves to ``server/archive/``, so the
        registry keeps exactly one valid server certificate, the one the site serves.
        """
        issued = authority.issue_server(hosts=hosts, key_type=key_type, valid_days=valid_days)
        key_pass = secrets.token_urlsafe(32)
        make_private_dir(self.secrets_dir)
        make_private_dir(self.root / "server")
        with self._write_lock():
            replaced = self.registry.list(kind="server", status="valid")
            old_certs = {}
            with contextlib.suppress(OSError, ValueError):
                old_certs = {format(c.serial_number, "X"): c
                             for c in x509.load_pem_x509_certificates(self.server_cert_path.read_bytes())}
            # Every row whose certificate is in server.crt now (a revoked one too) moves to the archive.
            current = self._rel(self.server_cert_path)
            to_archive = [r for r in self.registry.list(kind="server") if r.cert_path == current
                          and r.serial in old_certs]
            record = self.registry.add(issued.certificate, kind="server", cert_path=self._rel(self.server_cert_path),
                                       pending=True)
            try:
                # The replaced certificates' copies first: once server.crt is rewritten they exist nowhere else.
                archived = {}
                for old in to_archive:
                    if old.serial in old_certs:
                        target = make_private_dir(self.root / "server" / "archive") / f"server-{old.serial}.crt"
                        atomic_write(target, _pem(old_certs[old.serial]), mode=PUBLIC)
                        archived[old.serial] = self._rel(target)
                atomic_write(self.server_key_pass_path, key_pass.encode(), mode=PRIVATE)
                atomic_write(self.server_key_path, _encrypted_key(issued.key, key_pass), mode=PRIVATE)
                chain = b"".join(_pem(c) for c in authority.chain_to_root())
                atomic_write(self.server_cert_path, _pem(issued.certificate) + chain, mode=PUBLIC)
                self.registry.mark_done(record.serial)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.registry.discard(record.serial)
                raise
            for old in to_archive:
                self.registry.move_files(old.serial, cert_path=archived[old.serial], bundle_path=None)
            for old in replaced:
                self.registry.revoke(old.serial, reason=x509.ReasonFlags.superseded.value)
        if replaced:
            self.publish_crl(authority)
        return issued.certificate

    def server_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.server_cert_path.read_bytes())

    def server_key_password(self) -> str:
        return self.server_key_pass_path.read_text(encoding="utf-8").strip()

    # -- clients ---------------------------------------------------------------
    def bundle_path_for(self, name: str) -> Path:
        return self.clients_dir / f"{slugify(name)}.p12"

    def issue_client_bundle(
        self,
        authority: Authority,
        *,
        name: str,
        password: str,
        email: str | None = None,
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = CLIENT_DEFAULT_DAYS,
        profile: BundleProfile = BundleProfile.MODERN,
    ) -> IssuedBundle:
        """Issue a client certificate for ``name`` and write ``clients/<name>.p12``.

        When the name's previous certificate is revoked or expired, its files are
        archived to ``clients/archive/<name>-<serial>.p12`` first.

        Raises:
            WorkspaceError: a bundle with that file name exists and is still valid.
            ValueError: the name, e-mail or password is not acceptable.
        """
        check_bundle_password(password)
        stem = slugify(name)
        bundle_path = self.clients_dir / f"{stem}.p12"
        cert_path = self.clients_dir / f"{stem}.crt"
        with self.name_claim(name):  # fail fast, before the key is made
            pass
        self._make_room(name, bundle_path, cert_path)
        issued: Issued = authority.issue_client(name=name, email=email, key_type=key_type, valid_days=valid_days)
        with self.name_claim(name):
            return self._store_bundle(authority, issued, name=name, password=password, profile=profile,
                                      bundle_path=bundle_path, cert_path=cert_path)

    def _make_room(self, name: str, bundle_path: Path, cert_path: Path) -> None:
        if not (bundle_path.exists() or cert_path.exists()):
            return
        record = self.registry.by_bundle_path(self._rel(bundle_path))
        if record is None or (record.status == "valid" and not record.is_expired()):
            raise WorkspaceError(
                f"a bundle {bundle_path.name} already exists for {name!r}; renew it, or revoke it first"
            )
        self.archive(record)

    def _store_bundle(
        self,
        authority: Authority,
        issued: Issued,
        *,
        name: str,
        password: str,
        profile: BundleProfile,
        bundle_path: Path,
        cert_path: Path,
        p12: bytes | None = None,
    ) -> IssuedBundle:
        if p12 is None:
            p12 = encode_p12(key=issued.key, certificate=issued.certificate,
                             ca_certificates=authority.chain_to_root(), password=password,
                             friendly_name=name.strip(), profile=profile)
        return self.store_client_files(issued.certificate, p12, name=name, bundle_path=bundle_path,
                                       cert_path=cert_path)

    def store_client_files(
        self, certificate: x509.Certificate, p12: bytes, *, name: str, bundle_path: Path, cert_path: Path
    ) -> IssuedBundle:
        """Write a bundle and its certificate so that registry and files always agree.

        Order: pending row, bundle, certificate, row done. An exception removes what
        was written; a hard crash is rolled back by :meth:`reconcile` on the next open.

        Raises:
            WorkspaceError: a file is already there (nothing is overwritten).
        """
        for p in (bundle_path, cert_path):
            if p.exists():
                raise WorkspaceError(f"{p} already exists; nothing was overwritten")
        if not bundle_path.parent.is_dir():  # an existing folder keeps its mode (a shared one its sticky bit)
            make_private_dir(bundle_path.parent)
        with self._write_lock():
            return self._write_client_files(certificate, p12, name=name, bundle_path=bundle_path,
                                            cert_path=cert_path)

    def _write_client_files(
        self, certificate: x509.Certificate, p12: bytes, *, name: str, bundle_path: Path, cert_path: Path
    ) -> IssuedBundle:
        record = self.registry.add(certificate, kind="client", cert_path=self._rel(cert_path),
                                   bundle_path=self._rel(bundle_path), pending=True)
        written: list[Path] = []
        done = False

        def put(path: Path, data: bytes, mode: int) -> None:
            # exclusive: another process issuing the same name at this moment gets FileExistsError
            # instead of replacing our bundle, and we never remove a file that is not ours. Any other
            # exception (Ctrl-C even after the rename, during the folder's fsync) leaves a file that is ours.
            try:
                atomic_write(path, data, mode=mode, exclusive=True)
            except FileExistsError:
                raise
            except BaseException:
                written.append(path)
                raise
            written.append(path)

        try:
            _step("row-added")
            put(bundle_path, p12, PRIVATE)
            _step("bundle-written")
            put(cert_path, _pem(certificate), PUBLIC)
            _step("cert-written")
            self.registry.mark_done(record.serial)
            done = True
            _step("row-done")
        except BaseException as exc:
            if done:  # every file is in place and recorded: an interrupt now loses nothing
                raise
            for p in written:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            with contextlib.suppress(Exception):
                self.registry.discard(record.serial)
            if isinstance(exc, FileExistsError):
                raise WorkspaceError(f"{exc.filename} was created by someone else meanwhile; nothing was "
                                     "overwritten") from None
            raise
        return IssuedBundle(name.strip(), bundle_path, cert_path, certificate)

    @contextlib.contextmanager
    def name_claim(self, name: str) -> Iterator[None]:
        """Hold the workspace's naming lock while checking that ``name`` has no valid client certificate.

        issue-client, a roster batch and the GUI check and write under it, so two processes
        cannot both give one student a valid certificate (the lock is held for milliseconds:
        the check and the file writes, not the key generation).

        Raises:
            WorkspaceError: a valid, unexpired client certificate (or one being written) has this name.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".names.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            holder = self.registry.valid_client_named(name, match=same_name)
            if holder is not None:
                where = self.path_of(holder.bundle_path) if holder.bundle_path else "no bundle file"
                raise WorkspaceError(f"{name!r} already has a valid certificate ({holder.serial}, {where}); renew "
                                     "it, or revoke it first")
            yield
        finally:
            os.close(fd)

    def archive(self, record: Record) -> Record:
        """Move a certificate's files to ``archive/<stem>-<serial>.*`` beside them and update its row.

        Order: link the archive names, update the row, remove the old names; a crash
        at any point leaves every row pointing at files that exist.
        """
        moves: dict[str, str | None] = {"cert": record.cert_path, "bundle": record.bundle_path}
        new: dict[str, str | None] = {}
        old_files: list[Path] = []
        for what, stored in moves.items():
            if stored is None:
                new[what] = None
                continue
            old = self.path_of(stored)
            target = make_private_dir(old.parent / "archive") / f"{old.stem}-{record.serial}{old.suffix}"
            if old.is_file():
                with contextlib.suppress(FileNotFoundError):
                    target.unlink()
                try:
                    os.link(old, target)
                except OSError:
                    atomic_write(target, old.read_bytes(), mode=old.stat().st_mode & 0o777)
                old_files.append(old)
            new[what] = self._rel(target)
        moved = self.registry.move_files(record.serial, cert_path=new["cert"], bundle_path=new["bundle"])
        for old in old_files:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        return moved

    # -- renewal -------------------------------------------------------------------
    def renew(
        self,
        authority: Authority,
        serial_or_name: str,
        *,
        password: str | None = None,
        revoke_old: bool = False,
        reason: str = "superseded",
        valid_days: int | None = None,
        profile: BundleProfile | None = None,
    ) -> Record:
        """Renew a client or server certificate: new key and serial, same subject.

        ``serial_or_name`` is found as :meth:`find_for_renewal` finds it, so a revoked or
        expired certificate can be renewed by name.

        A client's old files are archived and the new bundle takes their place (it needs
        ``password``); a server's certificate is replaced with the same host names.

        Args:
            revoke_old: also revoke the old certificate (``reason``, default superseded).
            valid_days: the new lifetime; default the old one's.
            profile: the new bundle's encryption; default the old bundle's (a macOS student's
                compatible bundle stays compatible), modern when that cannot be read.

        Returns:
            The new certificate's registry row.

        Raises:
            WorkspaceError: no such certificate, or it is the CA.
            ValueError: the password or reason is not acceptable.
        """
        flag = parse_reason(reason) if revoke_old else None
        old = self.find_for_renewal(serial_or_name)
        cert = self._load_cert(old)
        days = valid_days or max(1, (old.not_after - old.not_before).days)
        key_type = key_type_of(cert.public_key())
        if old.kind == "server":
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            hosts = [str(g.value) for g in san if isinstance(g, (x509.DNSName, x509.IPAddress))]
            new_cert = self.issue_server(authority, hosts=hosts, key_type=key_type, valid_days=days)
        elif old.kind == "client":
            if password is None:
                raise ValueError("renewing a client bundle needs a password for the new bundle")
            check_bundle_password(password)
            emails = []
            with contextlib.suppress(x509.ExtensionNotFound):
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                emails = san.get_values_for_type(x509.RFC822Name)
            issued = authority.issue_client(name=old.common_name, email=emails[0] if emails else None,
                                            key_type=key_type, valid_days=days, subject=cert.subject)
            if old.bundle_path is not None:
                bundle_path = self.path_of(old.bundle_path)
                if bundle_path.parent.name == "archive":  # already moved aside: back where it lived
                    bundle_path = bundle_path.parent.parent / f"{slugify(old.common_name)}.p12"
                cert_path = bundle_path.with_suffix(".crt")
            else:
                stem = slugify(old.common_name)
                bundle_path, cert_path = self.clients_dir / f"{stem}.p12", self.clients_dir / f"{stem}.crt"
            if profile is None:
                profile = self._bundle_profile_of(old)
            self.archive(old)
            self._store_bundle(authority, issued, name=old.common_name, password=password, profile=profile,
                               bundle_path=bundle_path, cert_path=cert_path)
            new_cert = issued.certificate
        else:
            raise WorkspaceError("the CA itself cannot be renewed here; create or import a new CA")
        if flag is not None and self.registry.get(old.serial).status == "valid":  # a server's is superseded already
            self.registry.revoke(old.serial, reason=flag.value)
            self.publish_crl(authority)
        return self.registry.get(format(new_cert.serial_number, "X"))

    def _bundle_profile_of(self, record: Record) -> BundleProfile:
        """The encryption profile of a client's bundle as issued (read without its password)."""
        from core.doctor import read_p12_encryption

        if record.bundle_path is not None:
            with contextlib.suppress(OSError, ValueError):
                found = read_p12_encryption(self.path_of(record.bundle_path).read_bytes()).profile
                if found == BundleProfile.COMPATIBLE.value:
                    return BundleProfile.COMPATIBLE
        return BundleProfile.MODERN

    def _load_cert(self, record: Record) -> x509.Certificate:
        if record.cert_path is None:
            raise WorkspaceError(f"the certificate file of {record.common_name} ({record.serial}) is not recorded")
        path = self.path_of(record.cert_path)
        try:
            for cert in x509.load_pem_x509_certificates(path.read_bytes()):
                if format(cert.serial_number, "X") == record.serial:
                    return cert
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"the certificate file {path} cannot be read: {exc}") from None
        raise WorkspaceError(f"{path} no longer holds certificate {record.serial}")

    # -- secrets -----------------------------------------------------------------
    def write_secret(self, name: str, value: str) -> Path:
        """Store a generated password owner-only in ``secrets/``."""
        path = make_private_dir(self.secrets_dir) / name
        atomic_write(path, (value + "\n").encode(), mode=PRIVATE)
        return path

    def read_secret(self, name: str) -> str | None:
        path = self.secrets_dir / name
        if not path.is_file():
            return None
        return path.read_text(encoding="utf-8").strip()

    def _rel(self, path: Path) -> str:
        """A path to store in the registry: relative inside the workspace, absolute outside it."""
        path = Path(path).resolve()
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def name_key(name: str) -> str:
    """A person's name as lookups compare it: case, width and spacing aside (``Ana``, ``ana ``, ``Ａｎａ``)."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def same_name(a: str, b: str) -> bool:
    """Whether two people's names are the same for lookups (see :func:`name_key`)."""
    return name_key(a) == name_key(b)


def check_passphrase(passphrase: str) -> None:
    """Raises: ValueError when the CA passphrase is too short."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValueError(f"the CA passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters")


def _cert_file_has(path: Path, fingerprint_hex: str) -> bool:
    from core.registry import fingerprint

    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return False
    return bool(certs) and fingerprint(certs[0]) == fingerprint_hex


def _remove_with_temporaries(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    # atomic_write's temporaries: ".NAME.<random>.tmp" beside the target.
    if path.parent.is_dir():
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _encrypted_key(key: PrivateKey, password: str) -> bytes:
    # Traditional OpenSSL PEM encryption: ssl.SSLContext.load_cert_chain reads it
    # with password=..., and so do nginx and openssl s_server.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    )
