"""Certificate profiles, written down once.

Follows the pyca/cryptography tutorial "Creating a CA hierarchy": the CA has
critical basicConstraints and critical keyUsage (keyCertSign, cRLSign) and a
subject key identifier; leaves carry AKI, SKI, EKU and (for servers) SAN. These
are what Python 3.13's ``VERIFY_X509_STRICT`` and browsers insist on.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import secrets
import socket
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.keys import PrivateKey, PublicKey, signature_hash


class Kind(enum.Enum):
    """What a certificate is for."""

    CA = "ca"
    SERVER = "server"
    CLIENT = "client"


# Apple and the CA/Browser Forum cap publicly trusted server certificates at
# 398 days; private CAs are capped at 825 days by Apple
# (https://support.apple.com/en-us/103769). 397 leaves a day of slack.
SERVER_DEFAULT_DAYS = 397
SERVER_APPLE_LIMIT_DAYS = 825
CA_DEFAULT_DAYS = 3650
# A school term, roughly: long enough for a course, short enough to expire.
CLIENT_DEFAULT_DAYS = 180
MAX_DAYS = 36500
# Clocks of student laptops drift; backdating avoids "not yet valid" errors.
BACKDATE = dt.timedelta(minutes=5)


def server_lifetime_warning(valid_days: int) -> str | None:
    """A warning for server lifetimes Apple platforms refuse, else None."""
    if valid_days > SERVER_APPLE_LIMIT_DAYS:
        return (
            f"a server certificate valid for {valid_days} days is refused by Safari, iOS and macOS "
            f"(they accept at most {SERVER_APPLE_LIMIT_DAYS} days); choose {SERVER_DEFAULT_DAYS}"
        )
    return None


def random_serial() -> int:
    """A random positive serial of 159 bits (RFC 5280 allows 20 octets)."""
    return secrets.randbits(159) | (1 << 158)


def make_name(common_name: str, organization: str | None = None) -> x509.Name:
    """Build a subject name, checking the values a user typed.

    Raises:
        ValueError: the common name is empty or too long.
    """
    cn = common_name.strip()
    if not cn:
        raise ValueError("the name (common name) must not be empty")
    # X.509's upper bound is 64, and cryptography counts it in UTF-8 bytes.
    if len(cn.encode()) > 64:
        raise ValueError("the name (common name) must be at most 64 characters (fewer when accented)")
    # Control and format characters (such as the right-to-left override) would make
    # a name display as something else in lists, browsers and spreadsheets.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in cn):
        raise ValueError("the name must not contain control or invisible formatting characters")
    attrs = []
    if organization and organization.strip():
        org = organization.strip()
        if len(org.encode()) > 64 or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in org):
            raise ValueError("the organization must be at most 64 characters, without control characters")
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def check_email(email: str) -> str:
    """Return ``email`` stripped, for a client certificate's subjectAltName.

    Raises:
        ValueError: it is not a plain ASCII address like name@school.example.
    """
    email = email.strip()
    local, sep, domain = email.partition("@")
    labels = domain.split(".")
    if (
        not sep
        or not local
        or len(local) > 64
        or len(labels) < 2
        or not all(label and all(c.isascii() and (c.isalnum() or c == "-") for c in label) for label in labels)
        or not all(c.isascii() and c.isprintable() and c not in ' <>()[]\\,;:"@' for c in local)
    ):
        raise ValueError(f"{email!r} is not a valid e-mail address (ASCII only, like name@school.example)")
    return email


def _legacy_ipv4(text: str) -> bool:
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return True


def parse_hosts(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """Turn host names and addresses into SAN entries (IPs as iPAddress).

    Raises:
        ValueError: a host name is not a valid DNS name, or an address is unspecified (0.0.0.0, ::).
    """
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for raw in hosts:
        host = raw.strip().lower()
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            address = None
        if address is None and _legacy_ipv4(host):  # 0x0, 10.1: what bind() reads as an address, not a name
            raise ValueError(f"{raw.strip()!r} is an IP address in a legacy spelling; write it as four decimal "
                             "numbers (e.g. 192.168.1.20), or give a host name")
        if address is not None:
            mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
            if address.is_unspecified or (mapped is not None and mapped.is_unspecified):
                # 0.0.0.0 and :: mean "every interface" to bind(), never an address a client connects to.
                raise ValueError(f"{raw.strip()!r} is the 'any' address, which no client connects to; name the "
                                 "machine's real address (e.g. 192.168.1.20) or its host name instead")
            out.append(x509.IPAddress(address))
            continue
        labels = host.rstrip(".").split(".")
        ok = len(host) <= 253 and all(
            0 < len(label) <= 63
            and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
            and not label.startswith("-")
            and not label.endswith("-")
            for label in labels
        )
        if not ok:
            raise ValueError(f"{raw!r} is not a valid host name or IP address")
        if all(label.isdigit() for label in labels):
            raise ValueError(f"{raw!r} is not a valid IP address")
        out.append(x509.DNSName(host.rstrip(".")))
    if not out:
        raise ValueError("at least one host name or IP address is needed")
    return out


@dataclass(frozen=True, kw_only=True)
class CertificateRequest:
    """Everything the shared builder needs for one certificate."""

    kind: Kind
    subject: x509.Name
    public_key: PublicKey
    valid_days: int
    san: Sequence[x509.GeneralName] = ()
    path_length: int | None = 0


def build_certificate(
    request: CertificateRequest,
    *,
    issuer_cert: x509.Certificate | None,
    issuer_key: PrivateKey,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Build and sign a certificate of ``request.kind``.

    Args:
        request: subject, key, lifetime and kind.
        issuer_cert: the issuing CA certificate, or None for a self-signed root.
        issuer_key: the key that signs.
        now: the issue time (timezone-aware), for tests.

    Returns:
        The signed certificate.

    Raises:
        ValueError: the lifetime is not positive.
    """
    if request.valid_days <= 0:
        raise ValueError("the validity must be at least one day")
    if request.valid_days > MAX_DAYS:
        raise ValueError(f"the validity must be at most {MAX_DAYS} days (100 years)")
    now = now or dt.datetime.now(dt.UTC)
    issuer_name = issuer_cert.subject if issuer_cert is not None else request.subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(issuer_name)
        .public_key(request.public_key)
        .serial_number(random_serial())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=request.valid_days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(request.public_key), critical=False)
    )
    if issuer_cert is not None:
        try:
            ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:  # an imported CA without SKI: the RFC 5280 method-1 key id
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        builder = builder.add_extension(aki, critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )

    if request.kind is Kind.CA:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=request.path_length), critical=True
        ).add_extension(_key_usage(cert_sign=True), critical=True)
    else:
        is_rsa = isinstance(request.public_key, rsa.RSAPublicKey)
        eku = ExtendedKeyUsageOID.SERVER_AUTH if request.kind is Kind.SERVER else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(key_encipherment=is_rsa and request.kind is Kind.SERVER), critical=True)
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        )
        if request.san:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(request.san)), critical=False)
    return builder.sign(issuer_key, signature_hash(issuer_key))


def _key_usage(*, cert_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
