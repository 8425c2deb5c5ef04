"""Revocation: RFC 5280 reasons, and the CRL the demo site enforces."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from core.authority import Authority
from core.keys import signature_hash
from core.registry import Registry

# A CRL is re-signed whenever the CA is unlocked and at every revocation; a month
# of validity means a site left running through a holiday keeps accepting students.
CRL_VALIDITY = dt.timedelta(days=30)
# The root above an intermediate signs a CRL too (verifiers such as nginx check every
# CA on the path). Its key may be offline, so that CRL lives a year; re-signed when the
# root key is in the workspace and the CA is unlocked.
ROOT_CRL_VALIDITY = dt.timedelta(days=365)
# Re-sign when less than this is left.
CRL_REFRESH_WHEN_LEFT = dt.timedelta(days=15)

REASONS: dict[str, x509.ReasonFlags] = {
    flag.value: flag
    for flag in x509.ReasonFlags
    if flag not in (x509.ReasonFlags.remove_from_crl, x509.ReasonFlags.aa_compromise)
}


def parse_reason(text: str) -> x509.ReasonFlags:
    """Return the RFC 5280 reason named ``text`` (``keyCompromise``, ``superseded``, ...).

    Raises:
        ValueError: the reason is unknown.
    """
    for name, flag in REASONS.items():
        if name.lower() == text.strip().lower().replace("-", "").replace("_", ""):
            return flag
    raise ValueError(f"unknown revocation reason {text!r}; choose one of: {', '.join(REASONS)}")


def build_crl(
    authority: Authority,
    registry: Registry,
    *,
    now: dt.datetime | None = None,
    validity: dt.timedelta = CRL_VALIDITY,
    include_revoked: bool = True,
    previous_number: int = 0,
) -> x509.CertificateRevocationList:
    """Sign a CRL with a new CRL number.

    Args:
        include_revoked: list every revoked certificate of the registry (the issuing CA's
            CRL); False for a root above an intermediate, which has revoked nothing.
        previous_number: the CRL number already published (the new one is greater).
    """
    now = now or dt.datetime.now(dt.UTC)
    try:
        ski = authority.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:  # an imported CA without SKI
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key())
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + validity)
        .add_extension(x509.CRLNumber(registry.next_crl_number(above=previous_number)), critical=False)
        .add_extension(aki, critical=False)
    )
    for serial, when, reason in registry.revoked() if include_revoked else []:
        entry = x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(when)
        flag = REASONS.get(reason, x509.ReasonFlags.unspecified)
        if flag is not x509.ReasonFlags.unspecified:  # RFC 5280 5.3.1: omit rather than say unspecified
            entry = entry.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(authority.key, signature_hash(authority.key))


def crl_is_fresh(pem: bytes, *, now: dt.datetime | None = None) -> bool:
    """True when the CRL has more than the refresh margin left."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        crl = x509.load_pem_x509_crl(pem)
    except ValueError:
        return False
    nxt = crl.next_update_utc
    return nxt is not None and nxt - now > CRL_REFRESH_WHEN_LEFT


def crl_number_of(pem: bytes) -> int:
    """The CRL number of the first CRL in ``pem`` (0 when there is none or it cannot be read)."""
    try:
        crl = x509.load_pem_x509_crl(pem)
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except (ValueError, x509.ExtensionNotFound):
        return 0


def crl_pem_der(crl: x509.CertificateRevocationList) -> tuple[bytes, bytes]:
    return crl.public_bytes(serialization.Encoding.PEM), crl.public_bytes(serialization.Encoding.DER)
