"""Every field and extension of a certificate, decoded into plain words (for the details view)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "TLS server (serverAuth)",
    ExtendedKeyUsageOID.CLIENT_AUTH: "TLS client (clientAuth)",
    ExtendedKeyUsageOID.CODE_SIGNING: "code signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "e-mail protection",
    ExtendedKeyUsageOID.TIME_STAMPING: "time stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP signing",
}

_KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
    "key_cert_sign", "crl_sign",
)


def describe_certificate(cert: x509.Certificate) -> list[tuple[str, str]]:
    """(field, value) pairs for every part of ``cert``, extensions marked critical where they are."""
    rows: list[tuple[str, str]] = [
        ("Subject", cert.subject.rfc4514_string()),
        ("Issuer", cert.issuer.rfc4514_string()),
        ("Serial number", format(cert.serial_number, "X")),
        ("Valid from", cert.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")),
        ("Valid until", cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")),
        ("Public key", _key(cert.public_key())),
        ("Signature", cert.signature_algorithm_oid._name),
        ("SHA-256 fingerprint", cert.fingerprint(hashes.SHA256()).hex(":").upper()),
    ]
    for ext in cert.extensions:
        name = f"{ext.oid._name}{' (critical)' if ext.critical else ''}"
        rows.append((name, _extension(ext.value)))
    return rows


def _key(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ECDSA {key.curve.name} ({key.key_size} bits)"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size} bits"
    return type(key).__name__


def _extension(value: x509.ExtensionType) -> str:
    if isinstance(value, x509.BasicConstraints):
        if value.ca:
            limit = "no limit" if value.path_length is None else f"path length {value.path_length}"
            return f"certificate authority ({limit})"
        return "not a certificate authority (end entity)"
    if isinstance(value, x509.KeyUsage):
        used = []
        for attr in _KEY_USAGES:
            if getattr(value, attr):
                used.append(attr.replace("_", " "))
        return ", ".join(used) or "none"
    if isinstance(value, x509.ExtendedKeyUsage):
        return ", ".join(_EKU_NAMES.get(oid, oid.dotted_string) for oid in value)
    if isinstance(value, x509.SubjectAlternativeName):
        parts = [f"DNS:{v}" for v in value.get_values_for_type(x509.DNSName)]
        parts += [f"IP:{v}" for v in value.get_values_for_type(x509.IPAddress)]
        parts += [f"email:{v}" for v in value.get_values_for_type(x509.RFC822Name)]
        return ", ".join(parts)
    if isinstance(value, x509.SubjectKeyIdentifier):
        return value.digest.hex(":").upper()
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier.hex(":").upper() if value.key_identifier else "(issuer name and serial)"
    return str(value)
