"""Password-protected PKCS#12 client bundles: write and open."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from core import der
from core.keys import PrivateKey
from core.storage import PRIVATE, atomic_write

MIN_PASSWORD_LENGTH = 8
# `openssl pkcs12` reads at most 1,023 bytes of a password (PEM_BUFSIZE - 1), so a longer one
# opens nowhere that uses it; 256 characters leave room for 4-byte UTF-8.
MAX_PASSWORD_LENGTH = 256
# Iterations of every password derivation in a modern bundle: both PBKDF2 bags and the
# integrity MAC. An offline guesser checks each guess against the cheapest of the three, so
# they are all equal. cryptography always writes the MAC with 2,048 iterations whatever
# kdf_rounds says (which made our earlier 50,000 bag rounds worthless against guessing);
# we re-key the MAC ourselves (_strengthen_mac). 10,000 is what Java keytool (JDK 12+) writes
# for the same algorithms: 5x OpenSSL's default, and an import still takes milliseconds.
KDF_ROUNDS = 10_000


# The compatible profile's iteration count: what OpenSSL 1.x wrote by default and
# what macOS Keychain, Windows 7/8, Java 8 and older Android import without complaint.
COMPATIBLE_KDF_ROUNDS = 2048


class BundleProfile(enum.Enum):
    """How a bundle is encrypted; chosen per export (see docs/ca.md for which platform needs which)."""

    MODERN = "modern"  # AES-256-CBC, PBKDF2-HMAC-SHA256, SHA-256 MAC: Firefox, Chrome, Windows 10+, Java 11+
    COMPATIBLE = "compatible"  # 3DES + SHA-1 MAC: macOS Keychain, older Windows, Java 8, Android

    @property
    def label(self) -> str:
        if self is BundleProfile.MODERN:
            return "Modern (AES-256): Firefox, Chrome, Edge, Windows 10+, Linux, Java 11+"
        return "Compatible (3DES): macOS Keychain / Safari, iOS, Android, Windows 7/8, Java 8"

    @classmethod
    def parse(cls, value: str) -> BundleProfile:
        """Raises: ValueError for an unknown profile name."""
        for member in cls:
            if member.value == value.strip().lower():
                return member
        raise ValueError(f"unknown bundle profile {value!r}; choose modern or compatible")


class BundleError(ValueError):
    """A bundle could not be opened; the message says why in plain words."""


class WrongPasswordError(BundleError):
    pass


class NotABundleError(BundleError):
    pass


@dataclass(frozen=True)
class Bundle:
    """What a .p12 holds."""

    key: PrivateKey
    certificate: x509.Certificate
    ca_certificates: list[x509.Certificate] = field(default_factory=list)
    friendly_name: str | None = None


def check_bundle_password(password: str) -> None:
    """Refuse passwords a browser or keychain cannot use.

    Raises:
        ValueError: the password is empty or too short.
    """
    if not password:
        raise ValueError("a bundle needs a password: Firefox and macOS cannot import password-less bundles")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the bundle password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the bundle password must be at most {MAX_PASSWORD_LENGTH} characters (OpenSSL, and so "
                         "many importers, cannot open a bundle with a much longer one)")


def encode_p12(
    *,
    key: PrivateKey,
    certificate: x509.Certificate,
    ca_certificates: Sequence[x509.Certificate],
    password: str,
    friendly_name: str,
    profile: BundleProfile = BundleProfile.MODERN,
) -> bytes:
    """Serialize a bundle: key, certificate and CA chain, under ``friendly_name``.

    Args:
        profile: MODERN (AES-256-CBC, PBKDF2-SHA256, SHA-256 MAC, the default) or
            COMPATIBLE (PBE-SHA1-3DES for key and certificates, SHA-1 MAC).

    Raises:
        ValueError: the password is not acceptable.
    """
    check_bundle_password(password)
    if profile is BundleProfile.COMPATIBLE:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(COMPATIBLE_KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
            .hmac_hash(hashes.SHA1())  # noqa: S303 (the legacy MAC is this profile's purpose)
            .build(password.encode())
        )
    else:
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(KDF_ROUNDS)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(password.encode())
        )
    data = pkcs12.serialize_key_and_certificates(
        friendly_name.encode(), key, certificate, list(ca_certificates), encryption
    )
    if profile is BundleProfile.MODERN:
        data = _strengthen_mac(data, password, KDF_ROUNDS)
    return data


_SHA256 = "2.16.840.1.101.3.4.2.1"


def _pkcs12_mac_key(password: str, salt: bytes, iterations: int) -> bytes:
    """The MAC key of RFC 7292 appendix B.2 (ID 3) with SHA-256, 32 bytes (one block, so no B/I loop)."""
    v = 64  # SHA-256's block size
    pwd = password.encode("utf-16-be") + b"\x00\x00"  # BMPString with its terminating NUL, as OpenSSL does

    def fill(data: bytes) -> bytes:  # repeated to a whole number of blocks
        size = v * -(-len(data) // v)
        return (data * (size // len(data) + 1))[:size] if data else b""

    a = hashlib.sha256(bytes([3]) * v + fill(salt) + fill(pwd)).digest()
    sha256 = hashlib.sha256
    for _ in range(iterations - 1):
        a = sha256(a).digest()
    return a


def _strengthen_mac(pfx: bytes, password: str, iterations: int) -> bytes:
    """Recompute a PKCS#12 file's SHA-256 MAC with ``iterations`` and a fresh salt.

    Before rewriting, our derivation must reproduce the MAC cryptography wrote (so the new
    one is computed exactly as every reader will check it). Anything unexpected (another MAC
    hash, another layout, a mismatch) leaves the file as it is; a test watches the result.
    """
    try:
        root, end = der.parse(pfx)
        version, auth_safe, mac_data = root.children
        digest_info, old_salt, old_iter = mac_data.children
        mac_alg, old_digest = digest_info.children
        if end != len(pfx) or der.oid(mac_alg.children[0]) != _SHA256 or auth_safe.constructed is False:
            return pfx
        content = auth_safe.children[1].children[0].octets()
        old_n = int.from_bytes(old_iter.content, "big")
        if old_n >= iterations:
            return pfx
        check = hmac.new(_pkcs12_mac_key(password, old_salt.content, old_n), content, hashlib.sha256).digest()
        if not hmac.compare_digest(check, old_digest.content):
            return pfx
    except (ValueError, IndexError):
        return pfx
    salt = secrets.token_bytes(16)
    mac = hmac.new(_pkcs12_mac_key(password, salt, iterations), content, hashlib.sha256).digest()
    new_mac_data = der.encode(
        der.SEQUENCE,
        der.encode(der.SEQUENCE, der.encode(mac_alg.tag, mac_alg.content) + der.encode(der.OCTET_STRING, mac))
        + der.encode(der.OCTET_STRING, salt)
        + der.integer(iterations),
    )
    return der.encode(
        der.SEQUENCE,
        der.encode(version.tag, version.content) + der.encode(auth_safe.tag, auth_safe.content) + new_mac_data,
    )


def write_p12(path: Path, **kwargs: object) -> None:
    """Encode a bundle (see :func:`encode_p12`) and write it owner-only, atomically."""
    data = encode_p12(**kwargs)  # type: ignore[arg-type]
    atomic_write(path, data, mode=PRIVATE)


def open_p12(data: bytes, password: str) -> Bundle:
    """Open a PKCS#12 bundle in memory.

    Raises:
        WrongPasswordError: the password does not open it.
        NotABundleError: the data is not a PKCS#12 file, is damaged, or lacks a key or certificate.
    """
    if not data:
        raise NotABundleError("the file is empty; it is not a certificate bundle")
    if not _looks_like_der(data):
        raise NotABundleError("the file is not a .p12 / .pfx certificate bundle")
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode() if password else None)
    except ValueError as exc:
        text = str(exc).lower()
        if "password" in text or "mac" in text:
            raise WrongPasswordError("the bundle password is wrong") from exc
        raise NotABundleError("the file is damaged or is not a .p12 certificate bundle") from exc
    except Exception as exc:  # cryptography raises several types for garbage
        raise NotABundleError(f"the file could not be read as a bundle ({exc})") from exc
    if loaded.key is None or loaded.cert is None:
        raise NotABundleError("the bundle holds no private key and certificate pair")
    key = loaded.key
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise NotABundleError("the bundle's key type cannot be used for TLS")
    name = loaded.cert.friendly_name
    return Bundle(
        key=key,
        certificate=loaded.cert.certificate,
        ca_certificates=[c.certificate for c in loaded.additional_certs],
        friendly_name=name.decode(errors="replace") if name else None,
    )


def read_p12(path: Path, password: str) -> Bundle:
    """Open the bundle at ``path``; see :func:`open_p12`.

    Raises:
        NotABundleError: the file does not exist or cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise NotABundleError(f"the bundle file {path} does not exist") from None
    except IsADirectoryError:
        raise NotABundleError(f"{path} is a folder, not a bundle file") from None
    except OSError as exc:
        raise NotABundleError(f"the bundle file {path} cannot be read: {exc.strerror}") from None
    return open_p12(data, password)


def _looks_like_der(data: bytes) -> bool:
    # A PKCS#12 file is a DER SEQUENCE: tag 0x30.
    return data[:1] == b"\x30"
