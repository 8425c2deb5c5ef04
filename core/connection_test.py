"""Test Connection: walk a mutual-TLS login step by step and say what broke and why.

Steps: bundle opened → TLS handshake → client certificate accepted → login → protected page.
Every step ends ok, failed (with a plain-language cause and fix) or skipped.
The decrypted private key never touches the disk, and environment variables
(``REQUESTS_CA_BUNDLE``, proxies) never change what the test trusts.
"""

from __future__ import annotations

import contextlib
import enum
import json
import re
import secrets
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from requests.adapters import HTTPAdapter

from core.bundles import Bundle, BundleError, WrongPasswordError, read_p12


class Status(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


STEP_TITLES = {
    "bundle": "Bundle opened",
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
        marks = {Status.OK: "[ ok ]", Status.FAILED: "[FAIL]", Status.SKIPPED: "[skip]"}
        lines = [f"Test Connection to {self.url}"]
        for step in self.steps:
            lines.append(f"{marks[step.status]} {step.title}")
            for name, value in step.facts.items():
                lines.append(f"         {name}: {value}")
            if step.cause:
                lines.append(f"         Cause: {step.cause}")
            if step.fix:
                lines.append(f"         Fix: {step.fix}")
        lines.append("Result: all steps passed" if self.ok else f"Result: failed at '{self.failed_step.title}'"
                     if self.failed_step else "Result: nothing was tested")
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class ConnectionTestInput:
    """What the student gives the test.

    Attributes:
        url: the site, ``https://host:port/``.
        ca_cert: the CA certificate (PEM or DER) the server must chain to.
        bundle: the client ``.p12``.
        bundle_password: the bundle's password.
        username, password: the login; when ``None`` the login steps are skipped.
        timeout: seconds for each network step.
    """

    url: str
    ca_cert: Path
    bundle: Path
    bundle_password: str
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0


def run_connection_test(
    params: ConnectionTestInput, *, on_step: Callable[[Step], None] | None = None
) -> ConnectionReport:
    """Run every step and return the report. Never raises for a failing server or bad input."""
    report = ConnectionReport(url=params.url.encode("unicode_escape").decode()[:200])

    def record(step: Step) -> Step:
        report.steps.append(step)
        if on_step is not None:
            on_step(step)
        return step

    remaining = list(STEP_TITLES)

    def skip_rest(reason: str) -> ConnectionReport:
        for key in remaining[len(report.steps):]:
            record(Step(key, Status.SKIPPED, cause=reason))
        return report

    bundle_step, bundle = _open_bundle(params)
    record(bundle_step)
    if bundle is None:
        return skip_rest("an earlier step failed")

    target = _parse_url(params.url)
    if isinstance(target, Step):
        record(target)
        return skip_rest("an earlier step failed")
    host, port = target

    ca_pem = _load_ca(params.ca_cert)
    if isinstance(ca_pem, Step):
        record(ca_pem)
        return skip_rest("an earlier step failed")

    try:
        with _client_context(ca_pem, bundle) as ctx:
            hs = record(_handshake(ctx, host, port, params.timeout))
            if hs.status is Status.FAILED:
                return skip_rest("an earlier step failed")
            session = _session(ctx, params.ca_cert)
            page_step, page = _client_certificate(session, params.url, params.timeout)
            record(page_step)
            if page is None:
                return skip_rest("an earlier step failed")
            if params.username is None or params.password is None:
                return skip_rest("no username and password were given")
            login_step = record(_login(session, params.url, page, params.username, params.password,
                                       params.timeout))
            if login_step.status is not Status.OK:
                return skip_rest("the login did not succeed" if login_step.status is Status.FAILED
                                 else "the site has no login")
            # Where the login led, or the walkthrough's /user page when it stayed put.
            landed = login_step.facts.get("landed on", "/")
            protected = landed if landed not in ("", "/") else "/user"
            record(_protected_page(session, urljoin(params.url, protected), params.timeout))
    except Exception as exc:  # the report must come back whatever happens
        key = remaining[len(report.steps)]
        record(Step(key, Status.FAILED, cause=f"unexpected error: {exc}",
                    fix="Copy this report and show it to your instructor."))
        return skip_rest("an earlier step failed")
    return report


# -- step 1: bundle -------------------------------------------------------------------
def _open_bundle(params: ConnectionTestInput) -> tuple[Step, Bundle | None]:
    try:
        bundle = read_p12(Path(params.bundle), params.bundle_password)
    except WrongPasswordError:
        return Step("bundle", Status.FAILED, {"file": str(params.bundle)},
                    cause="The bundle password is wrong.",
                    fix="Type the bundle password exactly as in your instructor's handout "
                        "(it is not your login password)."), None
    except BundleError as exc:
        return Step("bundle", Status.FAILED, {"file": str(params.bundle)},
                    cause=str(exc)[0].upper() + str(exc)[1:] + ".",
                    fix="Choose the .p12 file your instructor gave you."), None
    cert = bundle.certificate
    facts = {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "valid until": cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
    }
    return Step("bundle", Status.OK, facts), bundle


def _parse_url(url: str) -> tuple[str, int] | Step:
    shown = url.encode("unicode_escape").decode()[:200]  # no line breaks or escapes into the report
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return Step("handshake", Status.FAILED, {"url": shown},
                    cause="The address is not a valid URL (check the brackets, the port and the spelling).",
                    fix="Use the address shown by the demo site, like https://localhost:8443/.")
    if port == 0:
        return Step("handshake", Status.FAILED, {"url": shown}, cause="Port 0 cannot be connected to.",
                    fix="Use the address shown by the demo site, like https://localhost:8443/.")
    if parts.scheme != "https" or not parts.hostname:
        return Step("handshake", Status.FAILED, {"url": shown},
                    cause="The address is not an https:// URL.",
                    fix="Use the address shown by the demo site, like https://localhost:8443/.")
    return parts.hostname, port or 443


def _load_ca(path: Path) -> bytes | Step:
    try:
        data = Path(path).read_bytes()
        cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data))
    except OSError:
        return Step("handshake", Status.FAILED, {"CA file": str(path)}, cause="The CA certificate file cannot be read.",
                    fix="Choose the ca.crt file your instructor gave you.")
    except ValueError:
        return Step("handshake", Status.FAILED, {"CA file": str(path)},
                    cause="The CA file is not a certificate.", fix="Choose the ca.crt file your instructor gave you.")
    return cert.public_bytes(serialization.Encoding.PEM)


@contextlib.contextmanager
def _client_context(ca_pem: bytes, bundle: Bundle) -> Iterator[ssl.SSLContext]:
    """A client context trusting only ``ca_pem`` and presenting the bundle.

    ``load_cert_chain`` reads files only, so the key is written re-encrypted with a
    one-time random password into a private temporary folder and deleted at once:
    the decrypted key never touches the disk.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cadata=ca_pem.decode())
    one_time = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="mtlslab-") as tmp:
        cert_file = Path(tmp) / "client.crt"
        key_file = Path(tmp) / "client.key"
        chain = bundle.certificate.public_bytes(serialization.Encoding.PEM)
        cert_file.write_bytes(chain)
        key_file.write_bytes(bundle.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(one_time.encode())))
        ctx.load_cert_chain(cert_file, key_file, password=one_time)
    yield ctx


# -- step 2: handshake ----------------------------------------------------------------
def _handshake(ctx: ssl.SSLContext, host: str, port: int, timeout: float) -> Step:
    facts: dict[str, str] = {"server": f"{host}:{port}"}
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror:
        return Step("handshake", Status.FAILED, facts, cause=f"The name {host} cannot be resolved.",
                    fix="Check the spelling of the address.")
    except ConnectionRefusedError:
        return Step("handshake", Status.FAILED, facts, cause="Nothing is listening at that address: the server is "
                    "not running, or the port is wrong.", fix="Start the demo site, then copy its exact address.")
    except TimeoutError:
        return Step("handshake", Status.FAILED, facts, cause="The server did not answer in time.",
                    fix="Check the address and that no firewall blocks the port.")
    except OSError as exc:
        return Step("handshake", Status.FAILED, facts, cause=f"Cannot connect: {exc.strerror or exc}.",
                    fix="Check the address and your network.")
    with raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                facts["protocol"] = tls.version() or "?"
                cipher = tls.cipher()
                facts["cipher"] = cipher[0] if cipher else "?"
                der = tls.getpeercert(binary_form=True)
                if der:
                    cert = x509.load_der_x509_certificate(der)
                    facts["server certificate"] = cert.subject.rfc4514_string()
                    facts["server certificate issuer"] = cert.issuer.rfc4514_string()
                    facts["server certificate valid until"] = cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
                    facts["server certificate SHA-256"] = cert.fingerprint(hashes.SHA256()).hex(":").upper()
                facts["verified against"] = "the chosen CA"
        except ssl.SSLCertVerificationError as exc:
            cause, fix = _server_verify_cause(exc, host)
            return Step("handshake", Status.FAILED, facts, cause=cause, fix=fix)
        except ssl.SSLError as exc:
            cause, fix = _client_refusal_cause(exc)
            return Step("handshake", Status.FAILED, facts, cause=cause, fix=fix)
        except (ConnectionError, TimeoutError, OSError) as exc:
            return Step("handshake", Status.FAILED, facts,
                        cause=f"The connection broke during the handshake ({exc}). The port may not speak TLS.",
                        fix="Check that the address starts with https:// and has the site's port.")
    return Step("handshake", Status.OK, facts)


def _server_verify_cause(exc: ssl.SSLCertVerificationError, host: str) -> tuple[str, str]:
    msg = (exc.verify_message or str(exc)).lower()
    if "hostname mismatch" in msg or "ip address mismatch" in msg:
        return (f"The server's certificate is not made out for {host}.",
                "Use the host name the certificate names (for the demo site: localhost), or ask for a server "
                "certificate that includes this address.")
    if "expired" in msg:
        return ("The server's certificate has expired.", "The instructor must issue a new server certificate.")
    return ("The server's certificate is not signed by the CA you chose.",
            "Choose the ca.crt of the CA that runs this site, or check that you are on the right site.")


def _client_refusal_cause(exc: BaseException) -> tuple[str, str]:
    text = str(exc).upper()
    if "CERTIFICATE_REQUIRED" in text or "HANDSHAKE_FAILURE" in text:
        return ("The server asked for a client certificate and refused the connection without an accepted one.",
                "Check that the bundle is the one your instructor issued for this site.")
    if "UNKNOWN_CA" in text:
        return ("The server does not trust the CA that signed your client certificate (it is from another CA).",
                "Use the bundle issued by this site's CA.")
    if "CERTIFICATE_EXPIRED" in text:
        return ("The server says your client certificate has expired.", "Ask your instructor for a new bundle.")
    if "CERTIFICATE_REVOKED" in text:
        return ("The server says your client certificate was revoked.", "Ask your instructor for a new bundle.")
    if "UNSUPPORTED_CERTIFICATE" in text or "BAD_CERTIFICATE" in text:
        return ("The server refused your certificate: it is not a client certificate.",
                "Use the client bundle (.p12) your instructor issued for you.")
    if "EOF OCCURRED IN VIOLATION" in text or "CONNECTION RESET" in text or "UNEXPECTED_EOF" in text:
        return ("The server closed the connection right after the handshake without a reason: it most likely "
                "refused your client certificate (expired, revoked, or from another CA).",
                "Check the bundle's validity in the Bundle step and ask your instructor whether it was revoked.")
    if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER_FAILURE" in text or "PACKET_LENGTH_TOO_LONG" in text:
        return ("The port does not speak TLS (it may be a plain http:// port).",
                "Use the https:// address and port shown by the demo site.")
    return (f"The TLS connection failed: {exc}.", "Copy this report and show it to your instructor.")


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


def _client_certificate(session: requests.Session, url: str, timeout: float) -> tuple[Step, str | None]:
    try:
        resp = session.get(url, timeout=timeout)
    except requests.exceptions.SSLError as exc:
        cause, fix = _client_refusal_cause(exc)
        return Step("client-certificate", Status.FAILED, cause=cause, fix=fix), None
    except requests.RequestException as exc:
        return Step("client-certificate", Status.FAILED, cause=f"The request failed: {exc}.",
                    fix="Try again; if it keeps failing, copy this report for your instructor."), None
    facts = {"HTTP status": str(resp.status_code)}
    if resp.status_code == 400 and "no required ssl certificate" in resp.text.lower():
        return Step("client-certificate", Status.FAILED, facts,
                    cause="The server asked for a client certificate but none was sent.",
                    fix="Check that the bundle is the one your instructor issued for this site."), None
    if resp.status_code >= 400:
        return Step("client-certificate", Status.FAILED, facts,
                    cause=f"The server answered with HTTP {resp.status_code}.",
                    fix="Copy this report and show it to your instructor."), None
    return Step("client-certificate", Status.OK, facts), resp.text


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


def _login(session: requests.Session, page_url: str, page: str, username: str, password: str, timeout: float) -> Step:
    form = _find_login_form(page)
    if form is None:
        return Step("login", Status.SKIPPED, cause="The site shows no login form.")
    data = dict(form["inputs"])
    user_field = next((n for n, t in form["types"].items() if t in ("text", "email") and n != "csrf"), "username")
    pass_field = next(n for n, t in form["types"].items() if t == "password")
    data[user_field] = username
    data[pass_field] = password
    try:
        resp = session.post(urljoin(page_url, form["action"] or page_url), data=data, timeout=timeout)
    except requests.RequestException as exc:
        return Step("login", Status.FAILED, cause=f"The login request failed: {exc}.",
                    fix="Try again; if it keeps failing, copy this report for your instructor.")
    facts = {"username": username, "HTTP status": str(resp.status_code)}
    if re.search(r"too many failed", resp.text, re.I):
        return Step("login", Status.FAILED, facts, cause="The site paused logins after too many failed attempts.",
                    fix="Wait a minute, then try again with the right password.")
    if resp.status_code >= 400 or _find_login_form(resp.text) is not None:
        return Step("login", Status.FAILED, facts, cause="The username or password is wrong.",
                    fix="Use the login your instructor gave you (it is not the bundle password).")
    facts["landed on"] = urlsplit(resp.url).path
    return Step("login", Status.OK, facts)


def _protected_page(session: requests.Session, url: str, timeout: float) -> Step:
    try:
        resp = session.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return Step("protected-page", Status.FAILED, cause=f"The request failed: {exc}.",
                    fix="Try again; if it keeps failing, copy this report for your instructor.")
    facts = {"page": urlsplit(resp.url).path, "HTTP status": str(resp.status_code)}
    if resp.status_code != 200 or urlsplit(resp.url).path != urlsplit(url).path:
        return Step("protected-page", Status.FAILED, facts, cause="The site did not show the protected page.",
                    fix="Log in again; if it keeps failing, copy this report for your instructor.")
    return Step("protected-page", Status.OK, facts)
