"""A workspace folder: the CA, the server certificate, the bundles and the registry.

Layout (documented in docs/workspace.md)::

    ca/ca.crt            CA certificate (hand this to students), 0644
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
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.authority import Authority, Issued, create_root_ca
from core.bundles import check_bundle_password, write_p12
from core.keys import KeyType, PrivateKey
from core.profiles import CA_DEFAULT_DAYS, CLIENT_DEFAULT_DAYS, SERVER_DEFAULT_DAYS
from core.registry import Record, Registry
from core.revocation import build_crl, crl_is_fresh, crl_pem_der, parse_reason
from core.site_users import UserStore
from core.storage import PRIVATE, PUBLIC, atomic_write, make_private_dir

MIN_PASSPHRASE_LENGTH = 8


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
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60].strip("-")
    if not text:
        raise ValueError(f"{name!r} has no letters or digits to make a file name from")
    return text


class Workspace:
    """One CA and everything it issued, in a folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.ca_cert_path = self.root / "ca" / "ca.crt"
        self.ca_key_path = self.root / "ca" / "ca.key"
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

    # -- state -------------------------------------------------------------
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
        if self._registry is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._registry = Registry(self.registry_path)
        return self._registry

    @property
    def users(self) -> UserStore:
        """The demo site's logins (one store per workspace object, so its lock covers every use)."""
        if self._users is None:
            self._users = UserStore(self.users_path)
        return self._users

    def ca_certificate(self) -> x509.Certificate:
        """Raises: WorkspaceError when there is no CA yet."""
        if not self.ca_cert_path.is_file():
            raise WorkspaceError(f"there is no CA in {self.root} yet; create one first")
        return x509.load_pem_x509_certificate(self.ca_cert_path.read_bytes())

    # -- CA ------------------------------------------------------------------
    def create_ca(
        self,
        *,
        common_name: str,
        passphrase: str,
        organization: str | None = None,
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = CA_DEFAULT_DAYS,
    ) -> Authority:
        """Create the workspace's root CA and store its key encrypted with ``passphrase``.

        Raises:
            WorkspaceError: a CA already exists here.
            ValueError: the passphrase or a name is not acceptable.
        """
        check_passphrase(passphrase)
        if self.ca_cert_path.exists() or self.ca_key_path.exists():
            raise WorkspaceError(f"{self.root} already has a CA; open it instead of creating a new one")
        authority = create_root_ca(
            common_name=common_name, organization=organization, key_type=key_type, valid_days=valid_days
        )
        make_private_dir(self.root / "ca")
        key_pem = authority.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
        # Key first: a certificate without its key would look like a usable CA.
        atomic_write(self.ca_key_path, key_pem, mode=PRIVATE)
        try:
            atomic_write(self.ca_cert_path, _pem(authority.certificate), mode=PUBLIC)
            self.registry.add(authority.certificate, kind="ca", cert_path=self._rel(self.ca_cert_path))
            self.publish_crl(authority)
        except BaseException:
            for p in (self.ca_cert_path, self.ca_key_path, self.crl_pem_path, self.crl_der_path):
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
        try:
            key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), passphrase.encode())
        except (ValueError, TypeError) as exc:
            raise WrongPassphraseError("the CA passphrase is wrong") from exc
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise WorkspaceError("the CA key is of a type mTLS Lab cannot use")
        if _spki(key.public_key()) != _spki(cert.public_key()):
            raise WorkspaceError("the CA key does not belong to the CA certificate")
        authority = Authority(cert, key)
        if not self.crl_pem_path.is_file() or not crl_is_fresh(self.crl_pem_path.read_bytes()):
            self.publish_crl(authority)
        return authority

    # -- revocation ------------------------------------------------------------
    def publish_crl(self, authority: Authority) -> x509.CertificateRevocationList:
        """Sign a fresh CRL and write it as PEM and DER (the site reloads it within a second)."""
        crl = build_crl(authority, self.registry)
        pem, der = crl_pem_der(crl)
        atomic_write(self.crl_der_path, der, mode=PUBLIC)
        atomic_write(self.crl_pem_path, pem, mode=PUBLIC)
        return crl

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

    def _find(self, serial_or_name: str) -> Record:
        text = serial_or_name.strip()
        try:
            return self.registry.get(text.upper().replace(":", ""))
        except KeyError:
            pass
        matches = [r for r in self.registry.list() if r.common_name == text and r.status == "valid"]
        if not matches:
            raise WorkspaceError(f"no valid certificate with serial or name {text!r}")
        if len(matches) > 1:
            serials = ", ".join(r.serial for r in matches)
            raise WorkspaceError(f"{len(matches)} valid certificates are named {text!r}; give the serial ({serials})")
        return matches[0]

    # -- server --------------------------------------------------------------
    def issue_server(
        self,
        authority: Authority,
        *,
        hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = SERVER_DEFAULT_DAYS,
    ) -> x509.Certificate:
        """Issue (or replace) the demo site's certificate; the key is stored encrypted."""
        issued = authority.issue_server(hosts=hosts, key_type=key_type, valid_days=valid_days)
        key_pass = secrets.token_urlsafe(32)
        make_private_dir(self.secrets_dir)
        make_private_dir(self.root / "server")
        atomic_write(self.server_key_pass_path, key_pass.encode(), mode=PRIVATE)
        atomic_write(self.server_key_path, _encrypted_key(issued.key, key_pass), mode=PRIVATE)
        atomic_write(
            self.server_cert_path, _pem(issued.certificate) + _pem(authority.certificate), mode=PUBLIC
        )
        self.registry.add(issued.certificate, kind="server", cert_path=self._rel(self.server_cert_path))
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
    ) -> IssuedBundle:
        """Issue a client certificate for ``name`` and write ``clients/<name>.p12``.

        Raises:
            WorkspaceError: a bundle with that file name exists already.
            ValueError: the name, e-mail or password is not acceptable.
        """
        check_bundle_password(password)
        stem = slugify(name)
        bundle_path = self.clients_dir / f"{stem}.p12"
        cert_path = self.clients_dir / f"{stem}.crt"
        if bundle_path.exists():
            raise WorkspaceError(f"a bundle {bundle_path.name} already exists for {name!r}")
        issued: Issued = authority.issue_client(name=name, email=email, key_type=key_type, valid_days=valid_days)
        make_private_dir(self.clients_dir)
        write_p12(
            bundle_path,
            key=issued.key,
            certificate=issued.certificate,
            ca_certificates=[authority.certificate],
            password=password,
            friendly_name=name.strip(),
        )
        try:
            atomic_write(cert_path, _pem(issued.certificate), mode=PUBLIC)
            self.registry.add(
                issued.certificate,
                kind="client",
                cert_path=self._rel(cert_path),
                bundle_path=self._rel(bundle_path),
            )
        except BaseException:
            for p in (bundle_path, cert_path):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            raise
        return IssuedBundle(name.strip(), bundle_path, cert_path, issued.certificate)

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
        return str(path.relative_to(self.root))


def check_passphrase(passphrase: str) -> None:
    """Raises: ValueError when the CA passphrase is too short."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValueError(f"the CA passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters")


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
