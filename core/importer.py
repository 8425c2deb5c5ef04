"""Import an existing CA made by openssl, easy-rsa or Java keytool.

Accepted: a PEM or DER certificate with a PEM (or DER) private key, encrypted or
not, or a PKCS#12 file holding both. The key must match the certificate. Problems
that make the CA unusable are errors; profile problems it can still issue with
are returned as warnings that say what will go wrong (see :func:`check_ca_profile`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from core.authority import Authority
from core.keys import PrivateKey, key_type_of

# A CA that expires sooner than this cannot issue a school term's bundles.
SHORT_LIFE = dt.timedelta(days=180)


class CAImportError(ValueError):
    """The files cannot be used as this workspace's CA; the message says why."""


@dataclass(frozen=True)
class ImportedCA:
    authority: Authority
    warnings: list[str] = field(default_factory=list)


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate in PEM or DER (the first one of a PEM file).

    Raises:
        CAImportError: the data is not a certificate.
    """
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
            return certs[0]
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise CAImportError("the certificate file is not a PEM or DER X.509 certificate") from None


def load_private_key(data: bytes, password: str | None) -> PrivateKey:
    """A PEM or DER private key, PKCS#8 or traditional, encrypted or not.

    Raises:
        CAImportError: wrong or missing password, unreadable data, or a key type TLS cannot use.
    """
    pw = password.encode() if password else None
    loader = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        key = loader(data, pw)
    except TypeError as exc:
        if "not encrypted" in str(exc):
            key = loader(data, None)  # a password was offered for a plain key: fine
        else:
            raise CAImportError("the CA key is encrypted: give its password") from None
    except ValueError as exc:
        if pw is not None and ("decrypt" in str(exc).lower() or "password" in str(exc).lower() or
                               "bad" in str(exc).lower()):
            raise CAImportError("the CA key password is wrong") from None
        raise CAImportError("the key file is not a readable PEM or DER private key (or its password is wrong)") \
            from None
    except Exception as exc:  # cryptography raises assorted types for unsupported keys
        raise CAImportError(f"the key cannot be used: {exc}") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CAImportError(f"a {type(key).__name__} key cannot sign TLS certificates that browsers accept")
    return key


def import_pem(cert_data: bytes, key_data: bytes, *, key_password: str | None = None) -> ImportedCA:
    """Import a CA from a certificate and a private key.

    Raises:
        CAImportError: the files are unreadable, do not match, or are not a usable CA.
    """
    return _checked(load_certificate(cert_data), load_private_key(key_data, key_password), [])


def import_p12(data: bytes, password: str) -> ImportedCA:
    """Import a CA from a PKCS#12 file (as keytool and openssl pkcs12 -export write).

    Raises:
        CAImportError: wrong password, no key, or not a usable CA.
    """
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode() if password else None)
    except ValueError:
        raise CAImportError("the .p12 cannot be opened: wrong password, or not a PKCS#12 file") from None
    if loaded.key is None or loaded.cert is None:
        raise CAImportError("the .p12 holds no private key with its certificate")
    key = loaded.key
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CAImportError(f"a {type(key).__name__} key cannot sign TLS certificates that browsers accept")
    chain = [c.certificate for c in loaded.additional_certs if c.certificate != loaded.cert.certificate]
    return _checked(loaded.cert.certificate, key, chain)


def _spki(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _checked(cert: x509.Certificate, key: PrivateKey, chain: list[x509.Certificate]) -> ImportedCA:
    if _spki(cert.public_key()) != _spki(key.public_key()):
        raise CAImportError("the private key does not belong to the certificate (their public keys differ)")
    try:
        key_type_of(key)
    except ValueError as exc:
        raise CAImportError(str(exc)) from None
    warnings = check_ca_profile(cert)
    return ImportedCA(Authority(cert, key, tuple(chain)), warnings)


def check_ca_profile(cert: x509.Certificate, *, now: dt.datetime | None = None) -> list[str]:
    """Profile problems of a CA certificate, each with its consequence.

    Raises:
        CAImportError: the certificate cannot act as a CA at all.
    """
    now = now or dt.datetime.now(dt.UTC)
    warnings: list[str] = []
    ext = cert.extensions
    try:
        bc = ext.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        raise CAImportError(
            "the certificate has no basicConstraints extension, so it is not a CA: verifiers refuse "
            "every certificate it signs"
        ) from None
    if not bc.value.ca:
        raise CAImportError("the certificate is not a CA (basicConstraints CA:FALSE); it cannot issue certificates")
    if not bc.critical:
        warnings.append(
            "basicConstraints is not marked critical (RFC 5280 requires it): Python 3.13+ clients "
            "(VERIFY_X509_STRICT) and `openssl verify -x509_strict` refuse chains through this CA"
        )
    try:
        ku = ext.get_extension_for_class(x509.KeyUsage)
        if not ku.value.key_cert_sign:
            raise CAImportError("the CA's keyUsage lacks keyCertSign: verifiers refuse anything it signs")
        if not ku.value.crl_sign:
            # The site checks every student against this CA's CRL; OpenSSL refuses a CRL from a CA without
            # cRLSign ("key usage does not include CRL signing"), so the site would refuse every student.
            raise CAImportError(
                "the CA's keyUsage lacks cRLSign, so it cannot sign a revocation list that OpenSSL accepts: the "
                "demo site, which checks every student against the CRL, would refuse them all. Create a new CA "
                "with mTLS Lab, or re-issue this one with keyUsage keyCertSign, cRLSign"
            )
        if not ku.critical:
            warnings.append("keyUsage is not critical: pkilint reports it, most clients still accept it")
    except x509.ExtensionNotFound:
        warnings.append(
            "there is no keyUsage extension: Python 3.13+ (VERIFY_X509_STRICT) and `openssl verify "
            "-x509_strict` refuse the chain ('CA cert does not include key usage extension')"
        )
    try:
        ext.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        warnings.append(
            "there is no subject key identifier: Python 3.13+ strict clients refuse the chain, and issued "
            "certificates get an authority key identifier computed from the key instead"
        )
    if cert.issuer != cert.subject:
        warnings.append(
            "this CA is not self-signed: students must also trust the root above it, "
            "which is not part of this import"
        )
    algorithm = cert.signature_hash_algorithm
    if isinstance(algorithm, (hashes.SHA1, hashes.MD5)):
        warnings.append(f"the CA is signed with {algorithm.name.upper()}: OpenSSL 3 at security level 1+ "
                        "and every browser refuse it")
    if isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size < 2048:  # type: ignore[union-attr]
        warnings.append("the RSA key is shorter than 2048 bits: OpenSSL 3 and browsers refuse it")
    left = cert.not_valid_after_utc - now
    if left <= dt.timedelta(0):
        raise CAImportError(f"the CA expired on {cert.not_valid_after_utc:%Y-%m-%d}")
    if left < SHORT_LIFE:
        warnings.append(
            f"the CA expires on {cert.not_valid_after_utc:%Y-%m-%d} ({left.days} days): nothing it issues "
            "can be valid longer"
        )
    if cert.not_valid_before_utc > now:
        warnings.append("the CA is not valid yet (its start date is in the future): verifiers refuse it until then")
    return warnings
