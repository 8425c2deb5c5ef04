"""Bundle doctor: look inside a client bundle offline and say what is wrong with it and how to fix it.

Also the certificate checks Test Connection shares (validity, clientAuth, chain, host names).
The encryption of a ``.p12`` is read from its ASN.1 (RFC 7292) with a small DER reader, so it
is named even when the password is wrong.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import ipaddress
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from core.bundles import BundleError, WrongPasswordError, open_p12
from core.der import Node as _Node
from core.der import oid as _oid
from core.der import parse as _parse
from core.keys import PrivateKey

# -- safe text for reports --------------------------------------------------------------
# Control characters (C0 with ESC, CR and LF; DEL; C1), bidi overrides and isolates, and the Unicode line and
# paragraph separators. A hostile certificate name, friendly name or Server header must not move the cursor,
# clear the terminal, reorder the text or start a line of its own ("Result: all steps passed") in a report
# a student copies to the instructor. See https://trojansource.codes/ for the bidi part.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(value: object) -> str:
    """``value`` as text that is safe to print: every control or bidi character as a visible escape
    (``\\x1b``, ``\\u202e``), so one value is always one line on a terminal."""
    return _UNSAFE.sub(lambda m: (f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                  else f"\\u{ord(m.group()):04x}"), str(value))


NOT_A_REGULAR_FILE = "is not a regular file"


def read_regular_file(path: Path | str) -> bytes:
    """The bytes of a regular file; a FIFO, device or socket is refused before anything is read
    (reading a FIFO would wait forever for a writer).

    Raises:
        OSError: the file cannot be opened or read; for a non-regular file ``strerror`` is
            :data:`NOT_A_REGULAR_FILE`.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise block until a writer appears.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, NOT_A_REGULAR_FILE, str(path))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    finally:
        if fd >= 0:
            os.close(fd)


# -- certificate facts shared with Test Connection -------------------------------------


def fmt_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def key_description(key: PrivateKey | Any) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"EC {key.curve.name}"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA {key.key_size} bits"
    return type(key).__name__


def key_usage_text(cert: x509.Certificate) -> str:
    try:
        ext = cert.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return "not set (any use)"
    ku = ext.value
    names = [n for n in ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                         "key_agreement", "key_cert_sign", "crl_sign") if getattr(ku, n)]
    return ", ".join(n.replace("_", " ") for n in names) + (" (critical)" if ext.critical else "")


_EKU_NAMES = {
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier] | None:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None


def eku_text(cert: x509.Certificate) -> str:
    ekus = _ekus(cert)
    if ekus is None:
        return "not set (any use)"
    return ", ".join(_EKU_NAMES.get(o, o.dotted_string) for o in ekus)


def certificate_facts(cert: x509.Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "valid from": fmt_time(cert.not_valid_before_utc),
        "valid until": fmt_time(cert.not_valid_after_utc),
        "key usage": key_usage_text(cert),
        "extended key usage": eku_text(cert),
        "SHA-256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
    }


def key_matches(key: PrivateKey | Any, cert: x509.Certificate) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        mine = key.public_key().public_bytes(serialization.Encoding.DER, spki)
    except AttributeError:
        return False
    return bool(mine == cert.public_key().public_bytes(serialization.Encoding.DER, spki))


def chains_to(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when ``ca`` signed ``cert`` (names and signature; one level, as the classroom CA issues leaves)."""
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def validity_problem(cert: x509.Certificate, now: dt.datetime | None = None) -> str | None:
    now = now or dt.datetime.now(dt.UTC)
    if now > cert.not_valid_after_utc:
        return f"the certificate expired on {fmt_time(cert.not_valid_after_utc)}"
    if now < cert.not_valid_before_utc:
        return f"the certificate is not valid before {fmt_time(cert.not_valid_before_utc)}"
    return None


def client_auth_problem(cert: x509.Certificate) -> str | None:
    """Why a server will not take ``cert`` as a client certificate, or ``None``."""
    ekus = _ekus(cert)
    if ekus is not None and not {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(
            ekus):
        return f"the certificate is not for client authentication (extended key usage: {eku_text(cert)})"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not ku.digital_signature:
        return "the certificate's key usage lacks digitalSignature, which a TLS client needs"
    return None


def san_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))]


def host_matches(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching against the subjectAltName only (no common-name fallback, as browsers do)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return ip in san.get_values_for_type(x509.IPAddress)
    wanted = host.rstrip(".").lower()
    for name in san.get_values_for_type(x509.DNSName):
        name = name.rstrip(".").lower()
        if name == wanted:
            return True
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return True
    return False


# -- reading a .p12's algorithms from its ASN.1 ---------------------------------------
_OIDS = {
    "1.2.840.113549.1.7.1": "data",
    "1.2.840.113549.1.7.6": "encryptedData",
    "1.2.840.113549.1.12.10.1.2": "pkcs8ShroudedKeyBag",
    "1.2.840.113549.1.12.10.1.3": "certBag",
    "1.2.840.113549.1.5.13": "PBES2",
    "1.2.840.113549.1.5.12": "PBKDF2",
    "1.2.840.113549.1.12.1.1": "pbeWithSHAAnd128BitRC4",
    "1.2.840.113549.1.12.1.2": "pbeWithSHAAnd40BitRC4",
    "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.4": "pbeWithSHAAnd2-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC",
    "1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC",
    "2.16.840.1.101.3.4.1.2": "AES-128-CBC",
    "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC",
    "1.2.840.113549.3.7": "DES-EDE3-CBC",
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
    "1.2.840.113549.2.7": "HMAC-SHA1",
    "1.2.840.113549.2.9": "HMAC-SHA256",
    "1.2.840.113549.2.10": "HMAC-SHA384",
    "1.2.840.113549.2.11": "HMAC-SHA512",
}


def _name(oid: str) -> str:
    return _OIDS.get(oid, oid)


def _algorithm(alg: _Node) -> str:
    """An AlgorithmIdentifier as words; PBES2 spelled out as its KDF, PRF and cipher."""
    oid = _oid(alg.children[0])
    if _name(oid) != "PBES2":
        return _name(oid)
    kdf, cipher = alg.children[1].children
    prf = "HMAC-SHA1"  # RFC 8018's default when the PRF is absent
    iterations = ""
    if len(kdf.children) > 1:
        params = kdf.children[1].children
        ints = [c for c in params if c.tag == 0x02]
        if ints:
            iterations = f", {int.from_bytes(ints[0].content, 'big')} iterations"
        seqs = [c for c in params if c.tag == 0x30]
        if seqs:
            prf = _name(_oid(seqs[0].children[0]))
    return f"PBES2 ({_name(_oid(kdf.children[0]))}-{prf}{iterations}, {_name(_oid(cipher.children[0]))})"


@dataclass(frozen=True)
class P12Encryption:
    """The algorithms protecting a .p12."""

    key: str  # the shrouded key bag's algorithm
    certificates: str  # the encryptedData's algorithm, or "not encrypted"
    mac: str  # the integrity MAC's digest, or "none"
    mac_iterations: int

    @property
    def profile(self) -> str:
        """``modern``, ``compatible`` (3DES/RC2 with a SHA-1 MAC, which every platform imports) or ``mixed``."""
        legacy = ("TripleDES", "RC2", "RC4")
        if "AES" in self.key and self.mac in ("SHA-256", "SHA-384", "SHA-512"):
            return "modern"
        if any(w in self.key for w in legacy) and self.mac == "SHA-1":
            return "compatible"
        return "mixed"


DAMAGED = "the file is damaged or is not a .p12 certificate bundle"


def read_p12_encryption(data: bytes) -> P12Encryption:
    """Read the algorithms of a PKCS#12 file without its password.

    Raises:
        ValueError: the data is not a PKCS#12 file this reader understands.
    """
    try:
        pfx, _ = _parse(data)
        auth_safe = pfx.children[1]
        if _name(_oid(auth_safe.children[0])) != "data":
            raise ValueError("public-key integrity mode is not supported")
        safes, _ = _parse(auth_safe.children[1].children[0].octets())
        key_alg = "no key"
        cert_alg = "not encrypted"
        for info in safes.children:
            kind = _name(_oid(info.children[0]))
            body = info.children[1].children[0]
            if kind == "encryptedData":
                cert_alg = _algorithm(body.children[1].children[1])
                continue
            bags, _ = _parse(body.octets())
            for bag in bags.children:
                if _name(_oid(bag.children[0])) == "pkcs8ShroudedKeyBag":
                    key_alg = _algorithm(bag.children[1].children[0].children[0])
        mac, iterations = "none", 0
        if len(pfx.children) > 2:
            mac_data = pfx.children[2]
            mac = _name(_oid(mac_data.children[0].children[0].children[0]))
            iterations = int.from_bytes(mac_data.children[2].content, "big") if len(mac_data.children) > 2 else 1
    except (IndexError, ValueError, TypeError, AttributeError, RecursionError):
        # The reader's own errors ("list index out of range") mean nothing to a student.
        raise ValueError(DAMAGED) from None
    return P12Encryption(key=key_alg, certificates=cert_alg, mac=mac, mac_iterations=iterations)


# Where each profile imports. Apple's keychain and Android before 12 cannot read PBES2/AES
# bundles (they answer "wrong password"); OpenSSL 3 without the legacy provider cannot read RC2.
PLATFORMS = {
    "modern": ("Windows 10 (1709) and 11, Firefox, Chrome on Linux (NSS), Java 11+, OpenSSL 1.1+, Android 12+",
               "older macOS/iOS keychains and Android before 12 say 'wrong password': use the compatible profile"),
    "compatible": ("everywhere, including older macOS/iOS keychains, Windows 7/8 and older Android",
                   "3DES with a SHA-1 MAC resists password guessing less than AES; OpenSSL 3 needs -legacy only "
                   "for RC2-encrypted certificates (bundles of older tools, not ours)"),
    "mixed": ("depends on the platform", "test the import where the bundle will be used"),
}


# -- the doctor -----------------------------------------------------------------------
def _loose_key(data: bytes, password: str) -> tuple[Any, list[x509.Certificate]] | None:
    """A key that no certificate in the bundle matches, with those certificates; ``None`` otherwise."""
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode() or None)
    except ValueError:
        return None
    if loaded.key is None or loaded.cert is not None:
        return None
    return loaded.key, [c.certificate for c in loaded.additional_certs]


class Verdict(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass
class Check:
    name: str
    verdict: Verdict
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict.value, "detail": self.detail, "fix": self.fix}


@dataclass
class DoctorReport:
    path: str
    contents: dict[str, str] = field(default_factory=dict)
    ca_certificates: list[dict[str, str]] = field(default_factory=list)
    encryption: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(c.verdict is not Verdict.PROBLEM for c in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.verdict is Verdict.PROBLEM]

    def to_dict(self) -> dict[str, Any]:
        return {"bundle": self.path, "healthy": self.healthy, "contents": self.contents,
                "ca_certificates": self.ca_certificates, "encryption": self.encryption,
                "checks": [c.to_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """The report for a terminal: every value from the file goes through :func:`one_line`."""
        lines = [f"Bundle doctor: {one_line(self.path)}"]
        for title, section in (("Inside", self.contents), ("Encryption", self.encryption)):
            if section:
                lines.append(f"{title}:")
                lines += [f"  {one_line(k)}: {one_line(v)}" for k, v in section.items()]
        for i, ca in enumerate(self.ca_certificates, 1):
            lines.append(f"CA certificate {i}: {one_line(ca['subject'])} (valid until {one_line(ca['valid until'])})")
        lines.append("Checks:")
        marks = {Verdict.OK: "[ ok ]", Verdict.WARNING: "[warn]", Verdict.PROBLEM: "[FAIL]"}
        for c in self.checks:
            lines.append(f"{marks[c.verdict]} {one_line(c.name)}: {one_line(c.detail)}")
            if c.fix and c.verdict is not Verdict.OK:
                lines.append(f"       Fix: {one_line(c.fix)}")
        n = len(self.problems)
        lines.append("Result: healthy" if self.healthy else f"Result: {n} problem{'s' if n != 1 else ''} to fix")
        return "\n".join(lines)


_REISSUE = "Ask your instructor to issue a new bundle (Certificates → Issue bundle, or `python main.py issue-client`)."


def diagnose_bundle(path: Path, password: str, *, ca_cert: Path | None = None, crl: Path | None = None,
                    now: dt.datetime | None = None) -> DoctorReport:
    """Examine a .p12 offline. Never raises for a bad file: every finding is a check in the report.

    Args:
        ca_cert: the CA to check the chain against (``ca.crt``; an intermediate and its root are both tried).
        crl: a revocation list to look the certificate up in; default ``crl.pem`` beside ``ca_cert``
            when there is one (a workspace's ``ca/`` folder has both).
    """
    report = DoctorReport(path=str(path))
    try:
        data = read_regular_file(path)
    except OSError as exc:
        if exc.strerror == NOT_A_REGULAR_FILE:
            report.checks.append(Check("file", Verdict.PROBLEM, f"{path} {NOT_A_REGULAR_FILE}",
                                       "Choose the .p12 file your instructor gave you."))
        else:
            report.checks.append(Check("file", Verdict.PROBLEM, f"cannot be read: {exc.strerror or exc}",
                                       "Check the path."))
        return report
    try:
        enc = read_p12_encryption(data)
    except ValueError as exc:
        report.checks.append(Check("file", Verdict.PROBLEM, str(exc),
                                   "Choose the .p12 file your instructor gave you."))
        return report
    report.encryption = {"profile": enc.profile, "private key": enc.key, "certificates": enc.certificates,
                         "integrity MAC": f"{enc.mac} ({enc.mac_iterations} iterations)" if enc.mac != "none"
                         else "none", "should import on": PLATFORMS[enc.profile][0],
                         "caveat": PLATFORMS[enc.profile][1]}
    if "40Bit" in enc.certificates or "40Bit" in enc.key:
        report.checks.append(Check("encryption", Verdict.WARNING, "40-bit RC2 is trivially broken",
                                   "Re-export with the modern or the 3DES compatible profile."))
    if enc.mac == "none":
        report.checks.append(Check("encryption", Verdict.WARNING, "no integrity MAC: tampering goes unnoticed",
                                   "Re-export the bundle with a password."))

    try:
        bundle = open_p12(data, password)
        report.checks.append(Check("password", Verdict.OK, "opens the bundle"))
    except WrongPasswordError:
        report.checks.append(Check("password", Verdict.PROBLEM, "the password does not open the bundle",
                                   "Use the bundle password from the handout (not the login password)."))
        return report
    except BundleError as exc:
        loose = _loose_key(data, password)
        if loose is None:
            report.checks.append(Check("contents", Verdict.PROBLEM, str(exc), _REISSUE))
            return report
        # OpenSSL only pairs a key with a certificate that matches it; a stray one lands among the CAs.
        key, certs = loose
        report.checks.append(Check("password", Verdict.OK, "opens the bundle"))
        report.contents = {"private key": key_description(key)}
        report.ca_certificates = [certificate_facts(c) for c in certs]
        report.checks.append(Check("key matches certificate", Verdict.PROBLEM,
                                   "the private key belongs to none of the certificates in the bundle: "
                                   "no server will accept it", _REISSUE))
        return report
    cert = bundle.certificate
    report.contents = {"private key": key_description(bundle.key), **certificate_facts(cert)}
    if bundle.friendly_name:
        report.contents["friendly name"] = bundle.friendly_name
    report.ca_certificates = [certificate_facts(c) for c in bundle.ca_certificates]

    if key_matches(bundle.key, cert):
        report.checks.append(Check("key matches certificate", Verdict.OK, "the private key belongs to the certificate"))
    else:
        report.checks.append(Check("key matches certificate", Verdict.PROBLEM,
                                   "the private key does not belong to the certificate: no server will accept it",
                                   _REISSUE))
    when = now or dt.datetime.now(dt.UTC)
    problem = validity_problem(cert, when)
    if problem:
        report.checks.append(Check("validity", Verdict.PROBLEM, problem, _REISSUE))
    elif cert.not_valid_after_utc - when < dt.timedelta(days=30):
        report.checks.append(Check("validity", Verdict.WARNING,
                                   f"expires soon, on {fmt_time(cert.not_valid_after_utc)}",
                                   "Ask for a new bundle before it expires."))
    else:
        report.checks.append(Check("validity", Verdict.OK, f"valid until {fmt_time(cert.not_valid_after_utc)}"))
    problem = client_auth_problem(cert)
    if problem:
        report.checks.append(Check("client authentication", Verdict.PROBLEM, problem,
                                   "This is not a client certificate (perhaps the server's): " + _REISSUE))
    else:
        report.checks.append(Check("client authentication", Verdict.OK,
                                   f"extended key usage: {eku_text(cert)}"))

    anchors: list[x509.Certificate] = []
    if ca_cert is not None:
        try:
            raw = Path(ca_cert).read_bytes()
            # ca.crt may hold an intermediate and its root: the bundle is checked against each.
            anchors = (x509.load_pem_x509_certificates(raw) if b"-----BEGIN" in raw
                       else [x509.load_der_x509_certificate(raw)])
        except (OSError, ValueError):
            report.checks.append(Check("chain", Verdict.PROBLEM, f"the CA file {ca_cert} is not a readable "
                                       "certificate", "Choose the ca.crt your instructor gave you."))
    signer = next((a for a in anchors if chains_to(cert, a)), None)
    via = None
    if signer is None:
        # The CA chosen may be the root students import, above an intermediate the bundle carries.
        for middle in bundle.ca_certificates:
            if chains_to(cert, middle) and (root := next((a for a in anchors if chains_to(middle, a)), None)):
                via, signer = middle, root
                break
    ca = signer or (anchors[0] if anchors else None)
    if ca is not None:
        if signer is not None and via is not None:
            report.checks.append(Check("chain", Verdict.OK,
                                       f"signed by the intermediate {via.subject.rfc4514_string()} (in the "
                                       f"bundle), which the chosen CA {ca.subject.rfc4514_string()} signed"))
        elif signer is not None:
            report.checks.append(Check("chain", Verdict.OK, f"signed by the chosen CA {ca.subject.rfc4514_string()}"))
            if validity_problem(ca, when):
                report.checks.append(Check("CA validity", Verdict.PROBLEM, "the CA " + str(validity_problem(ca, when)),
                                           "The instructor must create a new CA and reissue the bundles."))
        else:
            report.checks.append(Check("chain", Verdict.PROBLEM,
                                       f"not signed by the chosen CA {ca.subject.rfc4514_string()} (issued by "
                                       f"{cert.issuer.rfc4514_string()})",
                                       "Use the bundle from this CA, or choose the CA that issued it."))
    else:
        inside = next((c for c in bundle.ca_certificates if chains_to(cert, c)), None)
        detail = (f"signed by {inside.subject.rfc4514_string()}, included in the bundle" if inside
                  else f"issued by {cert.issuer.rfc4514_string()}; no CA was chosen to check against")
        report.checks.append(Check("chain", Verdict.OK if inside else Verdict.WARNING, detail,
                                   None if inside else "Give the CA certificate (--ca) to check the chain."))
    if crl is None and ca_cert is not None and (Path(ca_cert).parent / "crl.pem").is_file():
        crl = Path(ca_cert).parent / "crl.pem"
    if crl is not None:
        report.checks.append(_revocation_check(cert, Path(crl), via or signer, when))  # the CRL of the issuer
    return report


def _revocation_check(cert: x509.Certificate, path: Path, signer: x509.Certificate | None,
                      when: dt.datetime) -> Check:
    """Look the certificate up in a CRL file (PEM, possibly several CRLs, or DER)."""
    try:
        raw = read_regular_file(path)
        crls = ([x509.load_pem_x509_crl(b"-----BEGIN X509 CRL-----" + part) for part in
                 raw.split(b"-----BEGIN X509 CRL-----")[1:]] if b"-----BEGIN X509 CRL-----" in raw
                else [x509.load_der_x509_crl(raw)])
    except (OSError, ValueError):
        return Check("revocation", Verdict.WARNING, f"the revocation list {path} cannot be read",
                     "Choose the crl.pem of the CA that issued the bundle.")
    mine = [c for c in crls if c.issuer == cert.issuer]
    if not mine:
        return Check("revocation", Verdict.WARNING, f"the revocation list {path} is not the issuing CA's",
                     "Choose the crl.pem of the CA that issued the bundle.")
    crl = mine[0]
    if signer is not None and not crl.is_signature_valid(signer.public_key()):  # type: ignore[arg-type]
        return Check("revocation", Verdict.WARNING, f"the revocation list {path} is not signed by the CA",
                     "Use the crl.pem published by the CA.")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        reason = ""
        with contextlib.suppress(x509.ExtensionNotFound):
            reason = f" ({entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value})"
        return Check("revocation", Verdict.PROBLEM,
                     f"revoked on {fmt_time(entry.revocation_date_utc)}{reason}: every server of this CA refuses it",
                     "A revoked certificate never works again. " + _REISSUE)
    ends = crl.next_update_utc
    if ends is not None and ends < when:
        return Check("revocation", Verdict.WARNING,
                     f"not on the revocation list, but that list ran out on {fmt_time(ends)}; servers that "
                     "enforce it refuse everyone until it is re-signed",
                     "The instructor re-signs it by unlocking the CA (or: python main.py crl).")
    return Check("revocation", Verdict.OK, f"not revoked (revocation list of {fmt_time(crl.last_update_utc)})")
