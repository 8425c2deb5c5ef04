"""Key types and key generation."""

from __future__ import annotations

import enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class KeyType(enum.Enum):
    """Key algorithms a certificate can use in TLS with today's browsers."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"

    @property
    def label(self) -> str:
        return {
            KeyType.EC_P256: "ECDSA P-256 (recommended)",
            KeyType.EC_P384: "ECDSA P-384",
            KeyType.RSA_2048: "RSA 2048",
            KeyType.RSA_3072: "RSA 3072",
            KeyType.RSA_4096: "RSA 4096 (slow to create)",
        }[self]

    @property
    def is_rsa(self) -> bool:
        return self in (KeyType.RSA_2048, KeyType.RSA_3072, KeyType.RSA_4096)

    @classmethod
    def parse(cls, value: str) -> KeyType:
        """Return the key type named ``value`` (for example ``"ec-p256"``).

        Raises:
            ValueError: the name is unknown; Ed25519 is refused with the reason.
        """
        text = value.strip().lower()
        if text in ("ed25519", "ed448"):
            raise ValueError(
                f"{value} keys cannot be used for TLS certificates: browsers do not "
                "accept them in TLS. Choose ec-p256 or rsa-2048."
            )
        for member in cls:
            if member.value == text:
                return member
        names = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown key type {value!r}; choose one of: {names}")


def generate_private_key(key_type: KeyType) -> PrivateKey:
    """Generate a fresh private key of ``key_type``."""
    if key_type is KeyType.EC_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if key_type is KeyType.EC_P384:
        return ec.generate_private_key(ec.SECP384R1())
    bits = {KeyType.RSA_2048: 2048, KeyType.RSA_3072: 3072, KeyType.RSA_4096: 4096}[key_type]
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_type_of(key: object) -> KeyType:
    """Return the :class:`KeyType` of an existing key (private or public).

    Raises:
        ValueError: the key is of a kind we cannot use for TLS.
    """
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        raise ValueError("Ed25519 keys cannot be used for TLS certificates in browsers")
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if isinstance(key.curve, ec.SECP256R1):
            return KeyType.EC_P256
        if isinstance(key.curve, ec.SECP384R1):
            return KeyType.EC_P384
        raise ValueError(f"unsupported elliptic curve {key.curve.name}")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        size = key.key_size
        for kt, bits in ((KeyType.RSA_2048, 2048), (KeyType.RSA_3072, 3072), (KeyType.RSA_4096, 4096)):
            if size == bits:
                return kt
        raise ValueError(f"unsupported RSA key size {size}")
    raise ValueError(f"unsupported key type {type(key).__name__}")


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    """The hash to sign with: the curve's own hash for P-384, SHA-256 otherwise."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP384R1):
        return hashes.SHA384()
    return hashes.SHA256()
