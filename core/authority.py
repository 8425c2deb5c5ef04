"""A certificate authority: a CA certificate and its key, able to issue leaves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from core.keys import KeyType, PrivateKey, generate_private_key
from core.profiles import (
    CA_DEFAULT_DAYS,
    CLIENT_DEFAULT_DAYS,
    SERVER_DEFAULT_DAYS,
    CertificateRequest,
    Kind,
    build_certificate,
    check_email,
    make_name,
    parse_hosts,
)


@dataclass(frozen=True)
class Issued:
    """A freshly issued certificate with its new private key."""

    certificate: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class Authority:
    """A CA certificate with its private key, loaded and ready to sign."""

    certificate: x509.Certificate
    key: PrivateKey
    # The CAs above this one, nearest first, up to the root (empty for a root CA).
    chain: tuple[x509.Certificate, ...] = ()

    def chain_to_root(self) -> list[x509.Certificate]:
        """This CA's certificate and those above it: what bundles and the server send."""
        return [self.certificate, *self.chain]

    @property
    def name(self) -> str:
        return common_name(self.certificate)

    def _check_within_ca(self, valid_days: int) -> None:
        left = _days_left(self.certificate)
        if valid_days > left:
            raise ValueError(
                f"a certificate cannot outlive its CA: the CA is valid for {left} more days, "
                f"so choose at most {left} days (--days {left}, or the lifetime in the wizard)"
            )

    def issue_server(
        self,
        *,
        hosts: Sequence[str],
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = SERVER_DEFAULT_DAYS,
    ) -> Issued:
        """Issue a server certificate for ``hosts`` (names and IP addresses).

        The first host of at most 64 bytes becomes the CN; every host is in the subjectAltName, IP
        addresses as iPAddress entries.

        Raises:
            ValueError: a host is invalid or the list is empty.
        """
        self._check_within_ca(valid_days)
        san = parse_hosts(hosts)
        # The CN is only a label (browsers match the subjectAltName) and X.509 caps it at 64
        # bytes: use the first name that fits; a long DNS name still goes into the SAN.
        first = next((g.value for g in san if len(str(g.value).encode()) <= 64), None)
        if first is None:
            raise ValueError("at least one host name must be 64 characters or shorter (it becomes the certificate's "
                             "name); add a shorter one such as localhost")
        key = generate_private_key(key_type)
        request = CertificateRequest(
            kind=Kind.SERVER,
            subject=make_name(str(first)),
            public_key=key.public_key(),
            valid_days=valid_days,
            san=san,
        )
        return Issued(build_certificate(request, issuer_cert=self.certificate, issuer_key=self.key), key)

    def issue_client(
        self,
        *,
        name: str,
        email: str | None = None,
        key_type: KeyType = KeyType.EC_P256,
        valid_days: int = CLIENT_DEFAULT_DAYS,
        subject: x509.Name | None = None,
        key: PrivateKey | None = None,
    ) -> Issued:
        """Issue a client certificate (EKU clientAuth) for a person called ``name``.

        Args:
            subject: the exact subject to use (a renewal keeps the old one); default CN=name, O=the CA's.
            key: an already generated key of ``key_type`` (batches generate keys in worker processes).

        Raises:
            ValueError: the name or e-mail is invalid.
        """
        self._check_within_ca(valid_days)
        san: list[x509.GeneralName] = []
        if email:
            san.append(x509.RFC822Name(check_email(email)))
        if subject is None:
            subject = make_name(name, organization=organization(self.certificate))
        key = key if key is not None else generate_private_key(key_type)
        request = CertificateRequest(
            kind=Kind.CLIENT,
            subject=subject,
            public_key=key.public_key(),
            valid_days=valid_days,
            san=san,
        )
        return Issued(build_certificate(request, issuer_cert=self.certificate, issuer_key=self.key), key)


def _days_left(cert: x509.Certificate) -> int:
    return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days


def create_root_ca(
    *,
    common_name: str,
    organization: str | None = None,
    key_type: KeyType = KeyType.EC_P256,
    valid_days: int = CA_DEFAULT_DAYS,
    allow_intermediate: bool = False,
) -> Authority:
    """Create a self-signed root CA.

    Args:
        allow_intermediate: path length 1 (one intermediate CA below it) instead of 0 (leaves only).

    Raises:
        ValueError: a name is invalid or the lifetime is not positive.
    """
    key = generate_private_key(key_type)
    request = CertificateRequest(
        kind=Kind.CA,
        subject=make_name(common_name, organization),
        public_key=key.public_key(),
        valid_days=valid_days,
        # The path length allows an intermediate only when one is offered, so a stolen
        # leaf-only CA key cannot mint a sub-CA that verifiers would accept.
        path_length=1 if allow_intermediate else 0,
    )
    return Authority(build_certificate(request, issuer_cert=None, issuer_key=key), key)


def create_intermediate_ca(
    root: Authority,
    *,
    common_name: str,
    organization: str | None = None,
    key_type: KeyType = KeyType.EC_P256,
    valid_days: int = CA_DEFAULT_DAYS,
) -> Authority:
    """Create an intermediate CA under ``root`` (path length 0: it issues leaves only).

    The root can then stay offline; the intermediate signs bundles and carries the root in its chain.

    Raises:
        ValueError: the root's path length does not allow an intermediate, or the lifetime is too long.
    """
    bc = root.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    if bc.path_length is not None and bc.path_length < 1 + len(root.chain):
        raise ValueError(f"the CA {root.name!r} may not have intermediates below it (its path length is "
                         f"{bc.path_length}); create the root with an intermediate in mind")
    root._check_within_ca(valid_days)
    key = generate_private_key(key_type)
    request = CertificateRequest(
        kind=Kind.CA,
        subject=make_name(common_name, organization),
        public_key=key.public_key(),
        valid_days=valid_days,
        path_length=0,
    )
    cert = build_certificate(request, issuer_cert=root.certificate, issuer_key=root.key)
    return Authority(cert, key, (root.certificate, *root.chain))


def common_name(cert: x509.Certificate) -> str:
    """The subject's CN, or the whole subject when it has none."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else cert.subject.rfc4514_string()


def organization(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else None
