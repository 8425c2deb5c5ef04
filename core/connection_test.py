"""Test Connection: walk a mutual-TLS login step by step and say what broke and why.

Steps: bundle opened → connect → TLS handshake → client certificate accepted → login → protected page.
Every step ends ok, failed (with a plain-language cause and fix) or skipped.
The decrypted private key never touches the disk, and environment variables
(``REQUESTS_CA_BUNDLE``, proxies) never change what the test trusts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import enum
import errno
import ipaddress
import json
import re
import secrets
import select
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from OpenSSL import SSL, crypto
from requests.adapters import HTTPAdapter

from core.bundles import Bundle, BundleError, NotABundleError, WrongPasswordError, read_p12
from core.doctor import (
    NOT_A_REGULAR_FILE,
    certificate_facts,
    chains_to,
    client_auth_problem,
    fmt_time,
    host_matches,
    key_description,
    key_matches,
    one_line,
    read_regular_file,
    san_names,
    validity_problem,
)


class Status(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


STEP_TITLES = {
    "bundle": "Bundle opened",
    "connect": "Connected",
    "handshake": "TLS handshake",
    "client-certificate": "Client certificate accepted",
    "login": "Login accepted",
    "protected-page": "Protected page reached",
}


@dataclass
class Step:
    """One step of the report."""

    key: str
    status: Status
    facts: dict[str, str] = field(default_factory=dict)
    cause: str | None = None
    fix: str | None = None

    @property
    def title(self) -> str:
        return STEP_TITLES[self.key]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["title"] = self.title
        return d


@dataclass
class ConnectionReport:
    url: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status is not Status.FAILED for s in self.steps) and any(
            s.status is Status.OK for s in self.steps
        )

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if s.status is Status.FAILED), None)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "steps": [s.to_dict() for s in self.steps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """The report for a terminal. Facts come from the server (certificate names, its Server header):
        each goes through :func:`one_line`, so none can clear the screen or fake a line of the report."""
        marks = {Status.OK: "[ ok ]", Status.FAILED: "[FAIL]", Status.SKIPPED: "[skip]"}
        lines = [f"Test Connection to {one_line(self.url)}"]
        for step in self.steps:
            lines.append(f"{marks[step.status]} {step.title}")
            for name, value in step.facts.items():
                lines.append(f"         {one_line(name)}: {one_line(value)}")
            if step.cause:
                lines.append(f"         Cause: {one_line(step.cause)}")
            if step.fix:
                lines.append(f"         Fix: {one_line(step.fix)}")
        skipped = [step.title for step in self.steps if step.status is Status.SKIPPED]
        if self.ok:
            lines.append("Result: all steps passed" + (f" ({len(skipped)} skipped: {', '.join(skipped)})"
                                                       if skipped else ""))
        else:
            lines.append(f"Result: failed at '{self.failed_step.title}'" if self.failed_step
                         else "Result: nothing was tested")
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class ConnectionTestInput:
    """What the student gives the test.

    Attributes:
        url: the site, ``https://host:port/``.
        ca_cert: the CA certificate (PEM or DER) the server must chain to.
        bundle: the client ``.p12``, or a PEM file with the certificate (and the key, unless
            ``key_file`` is given); ``None`` tests what the server does without a client certificate.
        bundle_password: the bundle's (or the PEM key's) password.
        key_file: a PEM private key that goes with a PEM certificate in ``bundle``.
        username, password: the login; when ``None`` the login steps are skipped.
        timeout: seconds for each network step.
        tls_version: ``"1.2"`` or ``"1.3"`` to pin the protocol; ``None`` lets client and server agree.
    """

    url: str
    ca_cert: Path
    bundle: Path | None
    bundle_password: str
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    tls_version: str | None = None


def run_connection_test(
    params: ConnectionTestInput, *, on_step: Callable[[Step], None] | None = None
) -> ConnectionReport:
    """Run every step and return the report. Never raises for a failing server or bad input.

    A ``user:password@`` in the address is removed before anything else: it is never shown in the
    report (which students copy to the instructor) and never sent (requests would send it as Basic
    auth); the connect step says it was ignored.
    """
    url, had_userinfo = without_userinfo(params.url)
    params = dataclasses.replace(params, url=url)
    report = ConnectionReport(url=_shown(url))

    def record(step: Step) -> Step:
        report.steps.append(step)
        if on_step is not None:
            on_step(step)
        return step

    remaining = list(STEP_TITLES)

    def skip_rest(reason: str = "an earlier step failed") -> ConnectionReport:
        for key in remaining[len(report.steps):]:
            record(Step(key, Status.SKIPPED, cause=reason))
        return report

    try:
        ca = _load_ca(params.ca_cert)
        bundle_step, bundle = _open_bundle(params, None if isinstance(ca, Step) else ca)
        record(bundle_step)
        if bundle_step.status is Status.FAILED:
            return skip_rest()

        target = _parse_url(params.url)
        if isinstance(target, Step):
            if had_userinfo:
                target.facts["warning"] = _USERINFO_IGNORED
            record(target)
            return skip_rest()
        host, port = target
        connect_step, raw = _connect(host, port, params.timeout)
        if had_userinfo:
            connect_step.facts["warning"] = _USERINFO_IGNORED
        record(connect_step)
        if raw is None:
            return skip_rest()
        with raw:
            if isinstance(ca, Step):
                record(ca)
                return skip_rest()
            hs = record(_handshake(raw, host, port, ca, bundle, params))
        if hs.status is Status.FAILED:
            return skip_rest()

        with _client_context(ca, bundle, params.tls_version) as ctx:
            session = _session(ctx, params.ca_cert)
            page_step, page = _client_certificate(session, params.url, params.timeout, bundle, ca)
            record(page_step)
            if page is None:
                return skip_rest()
            form = _find_login_form(page)
            if form is None:
                return skip_rest("the site shows no login form (a server without a login)")
            if params.username is None or params.password is None:
                return skip_rest("no username and password were given")
            login_step = record(_login(session, params.url, form, params.username, params.password,
                                       params.timeout))
            if login_step.status is not Status.OK:
                return skip_rest("the login did not succeed")
            # Where the login led, or the walkthrough's /user page when it stayed put.
            landed = login_step.facts.get("landed on", "/")
            protected = landed if landed not in ("", "/") else "/user"
            record(_protected_page(session, urljoin(params.url, protected), params.timeout))
    except Exception as exc:  # the report must come back whatever happens
        key = remaining[min(len(report.steps), len(remaining) - 1)]
        record(Step(key, Status.FAILED, cause=f"unexpected error: {exc}",
                    fix="Copy this report and show it to your instructor."))
        return skip_rest()
    return report


# -- step 1: bundle -------------------------------------------------------------------
_PICK_BUNDLE = "Choose the .p12 file your instructor gave you (or a PEM certificate and its key)."


def _open_bundle(params: ConnectionTestInput, ca: list[x509.Certificate] | None) -> tuple[Step, Bundle | None]:
    if params.bundle is None:
        return Step("bundle", Status.SKIPPED, cause="no client certificate was chosen: testing without one"), None
    path = Path(params.bundle)
    facts = {"file": str(path)}
    try:
        bundle = _read_identity(path, params.key_file, params.bundle_password)
    except WrongPasswordError as exc:
        if params.key_file is not None or b"-----BEGIN" in _head(path):  # a PEM key, not a .p12
            return Step("bundle", Status.FAILED, facts, cause=_sentence(str(exc)),
                        fix="Give the password of the key file (the bundle password field, or "
                            "--bundle-password-file)."), None
        return Step("bundle", Status.FAILED, facts,
                    cause="The bundle password is wrong.",
                    fix="Type the bundle password exactly as in your instructor's handout "
                        "(it is not your login password)."), None
    except BundleError as exc:
        return Step("bundle", Status.FAILED, facts, cause=_sentence(str(exc)), fix=_PICK_BUNDLE), None
    cert = bundle.certificate
    facts.update(certificate_facts(cert))
    facts["key"] = key_description(bundle.key)
    if ca is not None:
        facts["chains to the chosen CA"] = "yes" if _signed_by_any(cert, ca) else (
            f"no (issued by {cert.issuer.rfc4514_string()}, the chosen CA is {_names(ca)})")
    # Problems a server will refuse: noted here as facts, named as the cause when the server refuses.
    warnings = [w for w in (validity_problem(cert), client_auth_problem(cert)) if w]
    if warnings:
        facts["warning"] = "; ".join(warnings)
    return Step("bundle", Status.OK, facts), bundle


def _head(path: Path) -> bytes:
    try:
        return read_regular_file(path)[:4096]
    except OSError:
        return b""


def _read_identity(path: Path, key_file: Path | None, password: str) -> Bundle:
    if path.is_dir():
        raise NotABundleError(f"{path} is a folder, not a bundle file")
    try:
        data = read_regular_file(path)
    except FileNotFoundError:
        raise NotABundleError(f"the bundle file {path} does not exist") from None
    except OSError as exc:
        if exc.strerror == NOT_A_REGULAR_FILE:
            raise NotABundleError(f"{path} {NOT_A_REGULAR_FILE}") from None
        raise NotABundleError(f"the bundle file {path} cannot be read: {exc.strerror}") from None
    if b"-----BEGIN" not in data[:4096] and key_file is None:
        return read_p12(path, password)
    return read_pem_identity(data, key_file, password)


def read_pem_identity(cert_pem: bytes, key_file: Path | None, password: str) -> Bundle:
    """A PEM certificate (+ chain) and its PEM key, from one file or two; the key stays in memory.

    Raises:
        WrongPasswordError: the key is encrypted and the password does not open it.
        NotABundleError: no certificate, no key, or a key that does not match.
    """
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise NotABundleError("the file is neither a .p12 bundle nor a PEM certificate") from None
    try:
        key_pem = Path(key_file).read_bytes() if key_file is not None else cert_pem
    except OSError as exc:
        raise NotABundleError(f"the key file {key_file} cannot be read: {exc.strerror}") from None
    match = re.search(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", key_pem, re.S)
    if match is None:
        raise NotABundleError("the PEM file has a certificate but no private key; choose the key file too")
    encrypted = b"ENCRYPTED" in match.group(0)
    if encrypted and not password:
        raise WrongPasswordError("the private key is encrypted and no password was given for it")
    try:
        key = serialization.load_pem_private_key(match.group(0), password.encode() if encrypted else None)
    except ValueError as exc:
        if "encrypted" in str(exc).lower() or "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise WrongPasswordError("the key password is wrong") from None
        raise NotABundleError("the private key in the PEM file is damaged") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise NotABundleError("the key type cannot be used for TLS")
    leaf = next((c for c in certs if key_matches(key, c)), None)
    if leaf is None:
        raise NotABundleError("the private key does not belong to the certificate")
    return Bundle(key=key, certificate=leaf, ca_certificates=[c for c in certs if c is not leaf])


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


_USERINFO_IGNORED = ("the address contained a username and password (user:password@); they were removed, not "
                     "sent and not shown here — give the login as the username and password instead")
# The authority of a URL: after "scheme://" (or at the start of a scheme-less address) up to the path.
_AUTHORITY = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?([^/?#]*)")


def without_userinfo(url: str) -> tuple[str, bool]:
    """``url`` without its ``user:password@`` part, and whether it had one.

    Works on any text, also on an address ``urlsplit`` refuses (a bad port, unbalanced brackets),
    so a password in the address never reaches the report whatever else is wrong with it.
    The userinfo ends at the *last* ``@`` of the authority, as in RFC 3986 (a password may contain ``@``).
    """
    # First what urlsplit itself does (WHATWG): leading controls and spaces go, tabs and line breaks anywhere,
    # so "https:\n//user:pw@host" cannot hide its authority from this function and still reach requests.
    url = url.lstrip("".join(map(chr, range(33)))).translate({9: None, 10: None, 13: None})
    match = _AUTHORITY.match(url)
    if match is None or "@" not in match.group(2):
        return url, False
    host = match.group(2).rpartition("@")[2]
    return url[:match.start(2)] + host + url[match.end(2):], True


def _shown(url: str) -> str:
    return url.encode("unicode_escape").decode()[:200]  # no line breaks or escapes into the report


def _parse_url(url: str) -> tuple[str, int] | Step:
    shown = _shown(url)
    use = "Use the address shown by the demo site, like https://localhost:8443/."
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return Step("connect", Status.FAILED, {"url": shown},
                    cause="The address is not a valid URL (check the brackets, the port and the spelling).", fix=use)
    if port == 0:
        return Step("connect", Status.FAILED, {"url": shown}, cause="Port 0 cannot be connected to.", fix=use)
    if parts.scheme != "https" or not parts.hostname:
        return Step("connect", Status.FAILED, {"url": shown},
                    cause="The address is not an https:// URL: client certificates only travel over https.", fix=use)
    return parts.hostname, port or 443


def _load_ca(path: Path) -> list[x509.Certificate] | Step:
    """Every certificate in the CA file: a root, or an intermediate and its root (``ca.crt`` holds the chain)."""
    try:
        data = read_regular_file(path)
        return (x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                else [x509.load_der_x509_certificate(data)])
    except OSError:
        return Step("handshake", Status.FAILED, {"CA file": str(path)},
                    cause="The CA certificate file cannot be read.",
                    fix="Choose the ca.crt file your instructor gave you.")
    except ValueError:
        return Step("handshake", Status.FAILED, {"CA file": str(path)},
                    cause="The CA file is not a certificate.", fix="Choose the ca.crt file your instructor gave you.")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _names(cas: list[x509.Certificate]) -> str:
    return " / ".join(c.subject.rfc4514_string() for c in cas)


def _signed_by_any(cert: x509.Certificate, cas: list[x509.Certificate]) -> bool:
    return any(chains_to(cert, ca) for ca in cas)


def _chain_to_send(bundle: Bundle) -> list[x509.Certificate]:
    """Intermediates the bundle carries (never a self-signed root: the server has its own)."""
    return [c for c in bundle.ca_certificates if c.subject != c.issuer]


@contextlib.contextmanager
def _client_context(ca: list[x509.Certificate], bundle: Bundle | None,
                    tls_version: str | None = None) -> Iterator[ssl.SSLContext]:
    """A client context trusting only ``ca`` and presenting the bundle.

    ``load_cert_chain`` reads files only, so the key is written re-encrypted with a
    one-time random password into a private temporary folder and deleted at once:
    the decrypted key never touches the disk.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls_version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls_version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(cadata="".join(_pem(c) for c in ca))
    if bundle is not None:
        one_time = secrets.token_urlsafe(24)
        with tempfile.TemporaryDirectory(prefix="mtlslab-") as tmp:
            cert_file = Path(tmp) / "client.crt"
            key_file = Path(tmp) / "client.key"
            cert_file.write_text("".join(_pem(c) for c in [bundle.certificate, *_chain_to_send(bundle)]))
            key_file.write_bytes(bundle.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(one_time.encode())))
            ctx.load_cert_chain(cert_file, key_file, password=one_time)
    yield ctx


# -- step 2: connect ------------------------------------------------------------------
def _connect(host: str, port: int, timeout: float) -> tuple[Step, socket.socket | None]:
    facts: dict[str, str] = {"server": f"{host}:{port}"}
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return Step("connect", Status.FAILED, facts, cause=f"The name {host} cannot be resolved to an address.",
                    fix="Check the spelling of the address (for the demo site: localhost)."), None
    facts["resolved to"] = ", ".join(dict.fromkeys(str(i[4][0]) for i in infos))
    last: OSError | None = None
    for family, kind, proto, _name, addr in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(addr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        facts["connected to"] = f"{addr[0]!s} port {addr[1]!s}"
        return Step("connect", Status.OK, facts), sock
    if isinstance(last, ConnectionRefusedError):
        cause = ("Nothing is listening at that address: the server is not running, or the port is wrong "
                 "(the connection was refused).")
        fix = "Start the demo site, then copy its exact address."
    elif isinstance(last, TimeoutError):
        cause = f"The server did not answer within {timeout:g} seconds (the connection timed out)."
        fix = "Check the address and that no firewall blocks the port."
    elif last is not None and last.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        cause = "The server's network cannot be reached from here (host or network unreachable)."
        fix = "Check your network connection, VPN and the address."
    else:
        cause = f"Cannot connect: {getattr(last, 'strerror', None) or last}."
        fix = "Check the address and your network."
    return Step("connect", Status.FAILED, facts, cause=cause, fix=fix), None


# -- step 3: handshake ----------------------------------------------------------------
# OpenSSL's state strings for the two handshake messages no stdlib API reports:
# the server's CertificateRequest and our Certificate (see ssl/statem/statem_lib.c).
_ASKED = "SSLv3/TLS read server certificate request"
_SENT = "SSLv3/TLS write client certificate"


def _handshake(raw: socket.socket, host: str, port: int, ca: list[x509.Certificate], bundle: Bundle | None,
               params: ConnectionTestInput) -> Step:
    """Handshake with pyOpenSSL, which shows what the stdlib hides: the server's whole chain,
    whether it asked for a client certificate and which CA names it accepts."""
    facts: dict[str, str] = {}
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_3_VERSION if params.tls_version == "1.3" else SSL.TLS1_2_VERSION)
    if params.tls_version == "1.2":
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    store = ctx.get_cert_store()
    assert store is not None
    for anchor in ca:
        store.add_cert(crypto.X509.from_cryptography(anchor))
    seen: dict[int, x509.Certificate] = {}
    errors: dict[int, int] = {}
    name_problem: list[str] = []

    def verify(_conn: SSL.Connection, cert: crypto.X509, err: int, depth: int, ok: int) -> bool:
        seen[depth] = cert.to_cryptography()
        if not ok:
            errors.setdefault(depth, err)
            return False
        if depth == 0 and not host_matches(seen[0], host):
            name_problem.append(host)
            return False  # never show our certificate to a server that is not the one named
        return True

    ctx.set_verify(SSL.VERIFY_PEER, verify)
    if bundle is not None:
        ctx.use_certificate(bundle.certificate)
        ctx.use_privatekey(bundle.key)
        for extra in _chain_to_send(bundle):
            ctx.add_extra_chain_cert(extra)
    states: list[str] = []
    ctx.set_info_callback(lambda conn, _where, _ret: states.append(conn.get_state_string().decode()))
    conn = SSL.Connection(ctx, raw)
    if not _is_ip(host):
        conn.set_tlsext_host_name(host.encode("idna"))
    conn.set_connect_state()
    raw.setblocking(False)
    failure: BaseException | None = None
    try:
        _nonblocking(conn.do_handshake, raw, params.timeout)
    except (SSL.Error, OSError) as exc:
        failure = exc

    chain = conn.get_peer_cert_chain(as_cryptography=True) or [seen[d] for d in sorted(seen)]
    if conn.get_protocol_version_name() and failure is None:
        facts["protocol"] = conn.get_protocol_version_name()
        facts["cipher"] = conn.get_cipher_name() or "?"
    for i, cert in enumerate(chain):
        label = "server certificate" if i == 0 else f"chain certificate {i}"
        facts[label] = cert.subject.rfc4514_string()
        facts[f"{label} issuer"] = cert.issuer.rfc4514_string()
        facts[f"{label} valid"] = f"{fmt_time(cert.not_valid_before_utc)} to {fmt_time(cert.not_valid_after_utc)}"
        facts[f"{label} SHA-256"] = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    if chain:
        facts["server names (subjectAltName)"] = ", ".join(san_names(chain[0])) or "none"
        facts["host matched"] = f"{host}: " + ("yes" if host_matches(chain[0], host) else "no")
    asked = _ASKED in states
    if failure is None or asked:
        facts["client certificate requested"] = "yes" if asked else "no"
        names = conn.get_client_ca_list(as_cryptography=True)
        if asked:
            facts["CA names the server accepts"] = ("; ".join(n.rfc4514_string() for n in names) if names
                                                    else "none sent (any CA may be accepted)")
        facts["client certificate sent"] = (
            f"yes ({bundle.certificate.subject.rfc4514_string()})" if asked and bundle is not None and _SENT in states
            else "no")
    try:
        raw.setblocking(True)
        with contextlib.suppress(SSL.Error, OSError):
            conn.shutdown()
    finally:
        conn.set_shutdown(SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)
    if failure is None and not asked:
        facts["note"] = ("the server did not ask for a client certificate in the handshake (it may ask later, "
                         "or not at all)")

    if name_problem:
        return Step("handshake", Status.FAILED, facts,
                    cause=f"The server's certificate is not made out for {host}: the name or IP address is not in "
                          "its subjectAltName.",
                    fix="Use a host name the certificate names (for the demo site: localhost), or ask for a server "
                        "certificate that includes this address.")
    if errors:
        depth, err = min(errors.items())
        facts["verification error"] = _verify_text(err)
        bad = seen.get(depth)
        if err == _X509_V_ERR_CERT_HAS_EXPIRED and bad is not None:
            return Step("handshake", Status.FAILED, facts,
                        cause=f"The server's certificate has expired (on {fmt_time(bad.not_valid_after_utc)}).",
                        fix="The server's administrator (your instructor) must install a new server certificate.")
        if err == _X509_V_ERR_CERT_NOT_YET_VALID:
            return Step("handshake", Status.FAILED, facts,
                        cause="The server's certificate is not valid yet: its start date is in the future "
                              "(or this computer's clock is wrong).",
                        fix="Check this computer's date and time.")
        return Step("handshake", Status.FAILED, facts,
                    cause="The server's certificate is not signed by the CA you chose (an unknown CA).",
                    fix="Choose the ca.crt of the CA that runs this site, or check that you are on the right site.")
    if failure is not None:
        cause, fix = _refusal_cause(failure, bundle, ca)
        if not chain and "ALERT" not in str(failure).upper():  # no TLS at all: is it a plain-http port?
            answer = _plain_http_answer(host, port, min(params.timeout, 5.0))
            if answer is not None:
                facts["plain http answer"] = answer
                cause, fix = _PLAIN_HTTP
            elif _closed_without_a_word(failure):
                # Nothing of TLS came back, so nothing about our certificate can be concluded.
                facts["server sent"] = "nothing: it closed the connection before any TLS reply"
                cause, fix = _CLOSED_BEFORE_TLS
            elif not _is_timeout(failure):
                facts["server sent"] = "bytes that are not TLS"
                cause, fix = _NOT_TLS
        return Step("handshake", Status.FAILED, facts, cause=cause, fix=fix)
    facts["verified against"] = f"the chosen CA ({_names(ca)})"
    return Step("handshake", Status.OK, facts)


_CLOSED_BEFORE_TLS = (
    "The server closed the connection before any TLS reply, so it never saw (or judged) your certificate: this port "
    "does not speak TLS, or the server turned the connection away (too busy, a connection limit, a firewall).",
    "Check the address and port; if they are right, try again in a minute or ask your instructor to look at the "
    "server.")
_NOT_TLS = ("The server answered with something that is not TLS (nor HTTP): this port runs another kind of service.",
            "Check the port number: the demo site's address is shown on its Demo Site page.")


def _closed_without_a_word(exc: BaseException) -> bool:
    text = str(exc).upper()
    return isinstance(exc, (ConnectionResetError, BrokenPipeError, SSL.SysCallError)) or "EOF" in text \
        or "RESET" in text or "UNEXPECTED" in text


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or "TIMED" in str(exc).upper()


_X509_V_ERR_CERT_NOT_YET_VALID = 9
_X509_V_ERR_CERT_HAS_EXPIRED = 10
_VERIFY_TEXT = {
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
}


def _verify_text(err: int) -> str:
    return f"{_VERIFY_TEXT.get(err, 'certificate verify failed')} (X509 error {err})"


def _nonblocking(op: Callable[[], object], sock: socket.socket, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            op()
            return
        except SSL.WantReadError:
            wait = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]
        except SSL.WantWriteError:
            wait = select.select([], [sock], [], max(0.0, deadline - time.monotonic()))[1]
        if not wait:
            raise TimeoutError("the server did not finish the handshake in time")


def _plain_http_answer(host: str, port: int, timeout: float) -> str | None:
    """The status line a plain-http server answers on this port, or ``None``.

    A plain server may wait forever on a TLS ClientHello (waitress does) or answer 400 (nginx);
    either way, a second connection that speaks plain HTTP tells which it is.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("idna"))
            first = sock.recv(200)
    except (OSError, UnicodeError):
        return None
    line = first.split(b"\r\n", 1)[0].decode("latin-1")
    return line[:80] if line.startswith("HTTP/") else None


_PLAIN_HTTP = ("The port does not speak TLS: it answered like a plain http:// server.",
               "Use the https:// address and port of the site, not its plain-http port.")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refusal_cause(exc: BaseException, bundle: Bundle | None, ca: list[x509.Certificate] | None) -> tuple[str, str]:
    """Name why the server refused, from its alert, refined by what we know of our own certificate."""
    text = re.sub(r"[\s_]+", "_", str(exc).upper())
    if isinstance(exc, TimeoutError) or "TIMED_OUT" in text:
        return ("The server accepted the connection but did not answer the TLS handshake in time: it may not speak "
                "TLS on this port.", "Check that the address has the site's https port.")
    if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER_FAILURE" in text or "PACKET_LENGTH_TOO_LONG" in text \
            or "HTTP_REQUEST" in text:
        return _PLAIN_HTTP
    if "PROTOCOL_VERSION" in text or "UNSUPPORTED_PROTOCOL" in text:
        return ("The server and this test share no TLS version (this test speaks TLS 1.2 and 1.3).",
                "The server must enable TLS 1.2 or 1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3;).")
    if "CERTIFICATE_REQUIRED" in text or (bundle is None and "HANDSHAKE_FAILURE" in text):
        return _NO_CERT
    if "UNKNOWN_CA" in text:
        return _OTHER_CA
    if "CERTIFICATE_EXPIRED" in text:
        now = datetime.datetime.now(datetime.UTC)
        cert = bundle.certificate if bundle is not None else None
        if cert is not None and cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            # OpenSSL sends the same alert when the *server's* CRL is past its nextUpdate.
            until = cert.not_valid_after_utc
            return (f"The server says your certificate has expired, but it is valid until {until:%Y-%m-%d}: the "
                    "server's own revocation list (CRL) has most likely run out, so it refuses every certificate.",
                    "Tell your instructor: the site's revocation list must be re-signed (unlock the CA in mTLS "
                    "Lab, or run: python main.py crl).")
        return _EXPIRED
    if "CERTIFICATE_REVOKED" in text:
        return _REVOKED
    if "UNSUPPORTED_CERTIFICATE" in text:
        return _NOT_CLIENT
    if "HANDSHAKE_FAILURE" in text or "BAD_CERTIFICATE" in text:
        return _refine_refusal(bundle, ca, "The server refused your client certificate in the handshake")
    if "EOF" in text or "RESET" in text or "ECONNRESET" in text or "BROKEN_PIPE" in text:
        return _refine_refusal(bundle, ca, "The server closed the connection without saying why")
    if any(w in text for w in ("LINETOOLONG", "BADSTATUSLINE", "LINE_TOO_LONG", "INVALID_HTTP")):
        return ("The TLS handshake worked, but what the server sent next is not an HTTP answer: this port runs "
                "another kind of service behind TLS.",
                "Check the address and port of the site (the demo site's is on its Demo Site page).")
    return (f"The TLS connection failed: {exc}.", "Copy this report and show it to your instructor.")


_NO_CERT = ("The server asked for a client certificate and none was sent, so it refused the connection.",
            "Choose your bundle (.p12) as the client bundle; without it a mutual-TLS site lets no one in.")
_OTHER_CA = ("The server does not trust the CA that signed your client certificate (it is from another CA).",
             "Use the bundle issued by this site's CA.")
_EXPIRED = ("The server refused your client certificate because it has expired.",
            "Ask your instructor for a new bundle.")
_REVOKED = ("The server refused your client certificate because it was revoked.",
            "Ask your instructor for a new bundle; a revoked certificate never works again.")
_NOT_CLIENT = ("The server refused your certificate: it is not a client certificate (no clientAuth in its "
               "extended key usage; a server certificate used as a client one).",
               "Use the client bundle (.p12) your instructor issued for you, not the server's certificate.")


def _refine_refusal(bundle: Bundle | None, ca: list[x509.Certificate] | None, what: str) -> tuple[str, str]:
    """A refusal that does not say why (nginx's 400 page, a bare reset): name the cause our own checks find."""
    if bundle is None:
        return _NO_CERT
    cert = bundle.certificate
    if validity_problem(cert):
        return (f"{what}; your certificate has expired (or is not valid yet), which is the reason.", _EXPIRED[1])
    if client_auth_problem(cert):
        return (f"{what}; your certificate is not a client certificate (no clientAuth), which is the reason.",
                _NOT_CLIENT[1])
    if ca is not None and not _signed_by_any(cert, ca):
        return (f"{what}; your certificate is from another CA than the site's, which is the reason.", _OTHER_CA[1])
    return (f"{what}; your certificate is valid, a client certificate and from the site's CA, so it was most "
            "likely revoked — or the server cannot check revocation (a missing or expired CRL, e.g. for a root "
            "above an intermediate CA) or trusts another CA for clients.",
            "Ask your instructor whether your certificate was revoked; if not, the server's CRL or client CA "
            "setting needs fixing (its error log names the reason).")


# -- steps 3-5: HTTP with requests ------------------------------------------------------
class _ContextAdapter(HTTPAdapter):
    def __init__(self, ctx: ssl.SSLContext) -> None:
        self._ctx = ctx
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ctx
        super().init_poolmanager(*args, **kwargs)


def _session(ctx: ssl.SSLContext, ca_cert: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE and proxies must not change what we trust
    session.verify = str(ca_cert)
    session.mount("https://", _ContextAdapter(ctx))
    return session


def _client_certificate(session: requests.Session, url: str, timeout: float, bundle: Bundle | None,
                        ca: list[x509.Certificate]) -> tuple[Step, str | None]:
    """The site root. Under TLS 1.3 a refusal arrives here, on the first read, not in the handshake."""
    try:
        resp = _guarded(session, "GET", url, timeout=timeout, origin=url)
    except requests.exceptions.SSLError as exc:
        cause, fix = _refusal_cause(exc, bundle, ca)
        return Step("client-certificate", Status.FAILED,
                    {"refused": "after the handshake, on the first read (TLS 1.3 sends the refusal there)"},
                    cause=cause, fix=fix), None
    except requests.exceptions.ConnectionError as exc:
        cause, fix = _refusal_cause(exc, bundle, ca)
        return Step("client-certificate", Status.FAILED, cause=cause, fix=fix), None
    except requests.RequestException as exc:
        return Step("client-certificate", Status.FAILED, cause=f"The request failed: {exc}.",
                    fix="Try again; if it keeps failing, copy this report for your instructor."), None
    facts = {"HTTP status": str(resp.status_code), "server software": resp.headers.get("Server", "not named")}
    body = resp.text.lower()
    # nginx with ssl_verify_client on completes the handshake whatever the certificate and answers these pages.
    if resp.status_code == 400 and "no required ssl certificate" in body:
        facts["server said"] = "400 No required SSL certificate was sent"
        return Step("client-certificate", Status.FAILED, facts, cause=_NO_CERT[0], fix=_NO_CERT[1]), None
    if resp.status_code == 400 and "ssl certificate error" in body:
        facts["server said"] = "400 The SSL certificate error"
        cause, fix = _refine_refusal(bundle, ca, "The server refused your client certificate (nginx's "
                                     "\"SSL certificate error\" page, which gives no reason)")
        return Step("client-certificate", Status.FAILED, facts, cause=cause, fix=fix), None
    if resp.status_code in (401, 403) and bundle is None:
        return Step("client-certificate", Status.FAILED, facts, cause=_NO_CERT[0], fix=_NO_CERT[1]), None
    if resp.status_code >= 400:
        return Step("client-certificate", Status.FAILED, facts,
                    cause=f"The server answered with HTTP {resp.status_code}.",
                    fix="Copy this report and show it to your instructor."), None
    if bundle is None:
        return Step("client-certificate", Status.FAILED, facts,
                    cause="The server let us in without a client certificate: it does not require one.",
                    fix="If this site should demand client certificates, its TLS settings are wrong "
                        "(nginx: ssl_verify_client on)."), None
    return Step("client-certificate", Status.OK, facts), resp.text


# -- guarded HTTP: same origin only, a bounded body, one deadline per step ----------------
MAX_BODY = 2 * 1024 * 1024  # a login page is kilobytes; a server streaming forever must not fill the memory
_REDIRECTS = (301, 302, 303, 307, 308)


class OffSiteRedirect(requests.RequestException):
    """The site sent us to another origin or to plain http: not followed (a password could go with it)."""


class TooSlow(requests.Timeout):
    """The whole answer took longer than the step's deadline (a server dripping bytes defeats read timeouts)."""


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _guarded(session: requests.Session, method: str, url: str, *, timeout: float,
             data: dict[str, str] | None = None, origin: str) -> requests.Response:
    """``session.request`` with redirects followed only within ``origin`` (https), the body read up to
    :data:`MAX_BODY`, and the whole exchange within ``timeout`` seconds (plus a second of grace).

    Raises:
        OffSiteRedirect: a redirect (or a form's target) leaves the site's https origin.
        TooSlow: the answer did not finish in time.
        requests.RequestException: what requests raises.
    """
    deadline = time.monotonic() + timeout
    outcome: dict[str, Any] = {}

    def exchange() -> None:
        nonlocal method, url, data
        try:
            for _hop in range(6):
                if _origin(url) != _origin(origin):
                    raise OffSiteRedirect(f"{url} is not the site's own https address ({origin})")
                resp = session.request(method, url, data=data, timeout=timeout, allow_redirects=False, stream=True)
                if resp.status_code in _REDIRECTS and "Location" in resp.headers:
                    target = urljoin(url, resp.headers["Location"])
                    resp.close()
                    if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                        method, data = "GET", None
                    url = target
                    continue
                body = bytearray()
                for chunk in resp.iter_content(65536):
                    body += chunk
                    if len(body) > MAX_BODY or time.monotonic() > deadline:
                        break
                resp.close()
                resp._content = bytes(body[:MAX_BODY])  # what resp.text reads
                outcome["response"] = resp
                return
            raise requests.TooManyRedirects("more than 5 redirects")
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=exchange, name="test-connection-http", daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    if worker.is_alive():
        # It may still be blocked reading a dripping server; it ends when that server stops or closes.
        session.close()
        raise TooSlow(f"the server did not finish answering within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    response: requests.Response = outcome["response"]
    return response


class _FormFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "inputs": {}, "types": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value", "")
            self.forms[-1]["types"][a["name"]] = a.get("type", "text")


def _find_login_form(html: str) -> dict[str, Any] | None:
    finder = _FormFinder()
    finder.feed(html)
    for form in finder.forms:
        if "password" in form["types"].values():
            return form
    return None


class _AlertFinder(HTMLParser):
    """The text of the page's error message: an element with role="alert" (or class "error")."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self.depth:
            self.depth += 1
        elif a.get("role") == "alert" or "error" in a.get("class", "").split():
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def _page_alert(html: str) -> str:
    finder = _AlertFinder()
    with contextlib.suppress(Exception):  # a broken page has no message to show, not a crash
        finder.feed(html)
    return " ".join(" ".join(finder.parts).split())[:300]


def _login(session: requests.Session, page_url: str, form: dict[str, Any], username: str, password: str,
           timeout: float) -> Step:
    data = dict(form["inputs"])
    user_field = next((n for n, t in form["types"].items() if t in ("text", "email") and n != "csrf"), "username")
    pass_field = next(n for n, t in form["types"].items() if t == "password")
    data[user_field] = username
    data[pass_field] = password
    target = urljoin(page_url, form["action"] or page_url)
    try:
        resp = _guarded(session, "POST", target, data=data, timeout=timeout, origin=page_url)
    except OffSiteRedirect as exc:
        return Step("login", Status.FAILED, {"username": username},
                    cause=f"The login form, or the site's answer to it, leads away from the site: {exc}. It was not "
                          "followed, so your password was not sent there.",
                    fix="Check that this is the right site; tell your instructor about its login form.")
    except requests.RequestException as exc:
        return Step("login", Status.FAILED, cause=f"The login request failed: {exc}.",
                    fix="Try again; if it keeps failing, copy this report for your instructor.")
    facts = {"username": username, "HTTP status": str(resp.status_code)}
    said = _page_alert(resp.text)
    if said:
        facts["site said"] = said
    if re.search(r"too many failed", resp.text, re.I):
        return Step("login", Status.FAILED, facts, cause="The site paused logins after too many failed attempts.",
                    fix="Wait a minute, then try again with the right password.")
    if re.search(r"may only log in as its owner", resp.text, re.I):
        # Our site's certificate-to-user mapping (serve --match-cn): the password may well be right.
        return Step("login", Status.FAILED, facts,
                    cause="This site accepts a login only from the certificate's owner, and the username is not "
                          "the name or e-mail address your certificate was issued to.",
                    fix="Log in with the name or e-mail address in your certificate (see the Bundle step's "
                        "subject), or use your own bundle.")
    if resp.status_code >= 500:
        return Step("login", Status.FAILED, facts,
                    cause=f"The site could not check the login (HTTP {resp.status_code}): the fault is on the "
                          "server, not in what you typed.",
                    fix="Tell your instructor; the site's event log (or error page) says what broke.")
    if resp.status_code >= 400 or _find_login_form(resp.text) is not None:
        return Step("login", Status.FAILED, facts, cause="The username or password is wrong.",
                    fix="Use the login your instructor gave you (it is not the bundle password).")
    facts["landed on"] = urlsplit(resp.url).path
    return Step("login", Status.OK, facts)


def _protected_page(session: requests.Session, url: str, timeout: float) -> Step:
    try:
        resp = _guarded(session, "GET", url, timeout=timeout, origin=url)
    except requests.RequestException as exc:
        return Step("protected-page", Status.FAILED, cause=f"The request failed: {exc}.",
                    fix="Try again; if it keeps failing, copy this report for your instructor.")
    facts = {"page": urlsplit(resp.url).path, "HTTP status": str(resp.status_code)}
    if resp.status_code != 200 or urlsplit(resp.url).path != urlsplit(url).path:
        return Step("protected-page", Status.FAILED, facts, cause="The site did not show the protected page.",
                    fix="Log in again; if it keeps failing, copy this report for your instructor.")
    return Step("protected-page", Status.OK, facts)
