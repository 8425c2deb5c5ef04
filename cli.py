"""The command line: the same core as the GUI, scriptable.

Secrets are never taken as arguments (they would show in ``ps`` and shell
history): each comes from a file named by an option, an environment variable,
or a prompt on a terminal; generated ones are written owner-only into the
workspace's ``secrets/`` folder and shown once.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import json
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.authority import Authority, common_name
from core.bundles import BundleError, BundleProfile
from core.connection_test import ConnectionReport, ConnectionTestInput, run_connection_test
from core.doctor import one_line
from core.keys import KeyType
from core.passwords import generate_password
from core.profiles import CA_DEFAULT_DAYS, CLIENT_DEFAULT_DAYS, SERVER_DEFAULT_DAYS
from core.workspace import Workspace, WorkspaceError, check_passphrase

DEFAULT_WORKSPACE = Path(os.environ.get("MTLSLAB_WORKSPACE", "~/mTLS-Lab")).expanduser()
# Every command, for main.py's routing (``--workspace DIR COMMAND`` works too).
COMMANDS = ("gui", "demo", "init", "issue-server", "issue-client", "user", "list", "revoke", "crl", "roster",
            "renew", "import-ca", "export", "serve", "test", "doctor")
DEMO_STUDENT = "Demo Student"
DEMO_USER = "student"
CA_SECRET = "ca-passphrase"  # noqa: S105 (a file or variable name, not a secret)
DEMO_BUNDLE_SECRET = "demo-student.p12.password"  # noqa: S105 (a file or variable name, not a secret)
DEMO_USER_SECRET = "demo-user.password"  # noqa: S105 (a file or variable name, not a secret)

ENV_CA = "MTLSLAB_CA_PASSPHRASE"
ENV_BUNDLE = "MTLSLAB_BUNDLE_PASSWORD"
ENV_PASSWORD = "MTLSLAB_PASSWORD"  # noqa: S105 (a file or variable name, not a secret)


class CliError(Exception):
    """A problem to report in one line, exit status 2."""


# -- secrets ------------------------------------------------------------------------
MAX_SECRET_FILE = 64 * 1024  # a passphrase is a line; /dev/zero or a wrong file must not fill the memory
MAX_INPUT_FILE = 1024 * 1024  # a certificate, key or .p12 to import


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit`` bytes of ``path`` (a pipe such as <(pass show ca) is fine; a folder is not).

    Raises:
        CliError: it cannot be read, or it is larger than ``limit``.
    """
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(limit + 1)
    except IsADirectoryError:
        raise CliError(f"the {what} {path} is a folder; give a file") from None
    except OSError as exc:
        raise CliError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise CliError(f"the {what} {path} is larger than {limit // 1024} KiB; it cannot be the right file")
    return data


def read_secret_file(path: Path) -> str:
    data = read_bounded(path, MAX_SECRET_FILE, "secret file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"the secret file {path} is not UTF-8 text") from None
    # The first line that is not blank; its line end (LF or a Windows CRLF) is not part of it, spaces are.
    value = next((line.rstrip("\r") for line in text.splitlines() if line.strip()), "")
    if not value:
        raise CliError(f"the secret file {path} is empty")
    return value


def get_secret(*, file: Path | None, env: str, prompt: str, what: str, confirm: bool = False,
               check: Callable[[str], None] | None = None) -> str:
    """A secret from a file, the environment, or a terminal prompt; never from argv.

    At a terminal, a typo (entries that differ, or one ``check`` refuses) asks again, three times.
    """
    if file is not None:
        return read_secret_file(file)
    value = os.environ.get(env)
    if value:
        return value
    if sys.stdin is not None and sys.stdin.isatty():
        for attempt in range(3):
            first = getpass.getpass(prompt)
            problem = None
            if confirm and getpass.getpass("Again: ") != first:
                problem = f"the two {what} entries differ"
            elif check is not None:
                try:
                    check(first)
                except ValueError as exc:
                    problem = str(exc)
            if problem is None:
                return first
            if attempt == 2:
                raise CliError(problem)
            print(f"{problem}; try again", file=sys.stderr)
    raise CliError(f"no {what} given: use --{what.replace(' ', '-')}-file FILE or set {env}")


def ca_passphrase(ws: Workspace, file: Path | None) -> str:
    stored = ws.read_secret(CA_SECRET)
    if file is None and not os.environ.get(ENV_CA) and stored:
        return stored
    return get_secret(file=file, env=ENV_CA, prompt="CA passphrase: ", what="passphrase")


# -- demo ------------------------------------------------------------------------------
@dataclass
class DemoResult:
    workspace: Path
    setup: list[dict[str, str]] = field(default_factory=list)
    report: ConnectionReport | None = None
    url: str = ""

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": str(self.workspace),
            "ok": self.ok,
            "url": self.url,
            "setup": self.setup,
            "test": self.report.to_dict() if self.report else None,
        }


def run_demo(ws: Workspace, *, log: Callable[[str], None] = lambda _m: None) -> DemoResult:
    """The whole classroom walkthrough, creating only what is missing.

    Raises:
        CliError: the workspace's CA cannot be opened with the stored passphrase.
    """
    from embedded_server.site import DemoSite, SiteConfig

    result = DemoResult(ws.root)
    authority: Authority | None = None

    def note(step: str, status: str, detail: str) -> None:
        result.setup.append({"step": step, "status": status, "detail": detail})
        log(f"[{status:^7}] {step}: {one_line(detail)}")

    def ca() -> Authority:
        nonlocal authority
        if authority is None:
            try:
                authority = ws.load_ca(ca_passphrase(ws, None))
            except WorkspaceError as exc:
                raise CliError(f"cannot open the CA in {ws.root}: {exc}") from None
        return authority

    if not ws.has_ca():
        passphrase = os.environ.get(ENV_CA) or generate_password()
        authority = ws.create_ca(common_name="mTLS Lab Classroom CA", organization="mTLS Lab", passphrase=passphrase)
        if not os.environ.get(ENV_CA):
            ws.write_secret(CA_SECRET, passphrase)
        note("ca", "created", f"{authority.name} -> {ws.ca_cert_path}")
    else:
        note("ca", "reused", f"{common_name(ws.ca_certificate())} in {ws.ca_cert_path}")

    server = _server_record(ws) if ws.has_server() else None
    if not ws.has_server():
        ws.issue_server(ca(), valid_days=_within_ca(ws, SERVER_DEFAULT_DAYS))
        note("server-certificate", "created", f"localhost, 127.0.0.1, ::1 -> {ws.server_cert_path}")
    elif server is not None and (server.status != "valid" or server.is_expired()):
        ws.renew(ca(), server.serial, valid_days=_within_ca(ws, SERVER_DEFAULT_DAYS))
        note("server-certificate", "renewed", f"the old one was {'revoked' if server.status != 'valid' else 'expired'}"
             f" -> {ws.server_cert_path}")
    else:
        note("server-certificate", "reused", str(ws.server_cert_path))

    bundle_path = ws.bundle_path_for(DEMO_STUDENT)
    bundle_password = ws.read_secret(DEMO_BUNDLE_SECRET)
    current = ws.registry.by_bundle_path(str(bundle_path.relative_to(ws.root)))
    if bundle_path.exists() and bundle_password is not None and current is not None and (
            current.status != "valid" or current.is_expired()):
        # Revoked or expired (perhaps to show a refusal in class): the demo renews it rather than fail every run.
        bundle_password = generate_password()
        ws.write_secret(DEMO_BUNDLE_SECRET, bundle_password)
        ws.renew(ca(), current.serial, password=bundle_password)
        was = current.status if current.status != "valid" else "expired"
        note("client-bundle", "renewed", f"{bundle_path} (the old one was {was}; new password in "
             f"secrets/{DEMO_BUNDLE_SECRET})")
    elif not bundle_path.exists() or bundle_password is None:
        if bundle_path.exists():
            raise CliError(f"{bundle_path} exists but its password file secrets/{DEMO_BUNDLE_SECRET} is missing")
        bundle_password = generate_password()
        ws.write_secret(DEMO_BUNDLE_SECRET, bundle_password)
        ws.issue_client_bundle(ca(), name=DEMO_STUDENT, password=bundle_password,
                               valid_days=_within_ca(ws, CLIENT_DEFAULT_DAYS))
        note("client-bundle", "created", f"{bundle_path} (password in secrets/{DEMO_BUNDLE_SECRET})")
    else:
        note("client-bundle", "reused", str(bundle_path))

    user_password = ws.read_secret(DEMO_USER_SECRET)
    if user_password is None or DEMO_USER not in ws.users.usernames():
        user_password = generate_password()
        ws.write_secret(DEMO_USER_SECRET, user_password)
        ws.users.set_password(DEMO_USER, user_password)
        note("demo-user", "created", f"{DEMO_USER} (password in secrets/{DEMO_USER_SECRET})")
    else:
        note("demo-user", "reused", DEMO_USER)

    site = DemoSite(SiteConfig.from_workspace(ws, host="127.0.0.1", port=0))
    result.url = site.start()
    note("site", "started", result.url)
    try:
        result.report = run_connection_test(
            ConnectionTestInput(
                url=result.url,
                ca_cert=ws.ca_cert_path,
                bundle=bundle_path,
                bundle_password=bundle_password,
                username=DEMO_USER,
                password=user_password,
            )
        )
    finally:
        site.stop()
        note("site", "stopped", result.url)
    return result


def _server_record(ws: Workspace) -> Any:
    """The registry row of the certificate the site serves now (None if the registry does not know it)."""
    try:
        serial = format(ws.server_certificate().serial_number, "X")
        return ws.registry.get(serial)
    except (KeyError, ValueError, OSError):
        return None


def _within_ca(ws: Workspace, days: int) -> int:
    """``days``, or fewer when the CA ends sooner (an imported CA of a year, say): a leaf never outlives it."""
    left = (ws.ca_certificate().not_valid_after_utc - dt.datetime.now(dt.UTC)).days - 1
    return max(1, min(days, left))


# -- commands ---------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if args.passphrase_file is not None:
        os.environ[ENV_CA] = read_secret_file(args.passphrase_file)
    result = run_demo(ws, log=(lambda _m: None) if args.json else print)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        assert result.report is not None
        print()
        print(result.report.to_text())
        print(f"\nCA certificate for the browser: {ws.ca_cert_path}")
        print(f"Student bundle: {ws.bundle_path_for(DEMO_STUDENT)} (password: {ws.secrets_dir / DEMO_BUNDLE_SECRET})")
        print(f"Login: {DEMO_USER} (password: {ws.secrets_dir / DEMO_USER_SECRET})")
    return 0 if result.ok else 1


def cmd_init(args: argparse.Namespace) -> int:
    ws = Workspace(args.workspace)
    if ws.has_ca():
        raise CliError(f"{ws.root} already has a CA ({one_line(common_name(ws.ca_certificate()))})")
    key_type = KeyType.parse(args.key_type)  # refuse a bad choice before asking for a passphrase
    generated = False
    if args.passphrase_file is None and not os.environ.get(ENV_CA) and args.generate_passphrase:
        passphrase, generated = generate_password(), True
    else:
        passphrase = get_secret(file=args.passphrase_file, env=ENV_CA, prompt="New CA passphrase: ",
                                what="passphrase", confirm=True, check=check_passphrase)
    authority = ws.create_ca(common_name=args.name, organization=args.org, key_type=key_type,
                             valid_days=args.days, passphrase=passphrase, intermediate=args.intermediate)
    if generated:
        path = ws.write_secret(CA_SECRET, passphrase)
        print(f"Generated CA passphrase (shown once, also saved owner-only in {path}): {passphrase}")
    _out(args, {"ca": authority.name, "certificate": str(ws.ca_cert_path)},
         f"Created CA {authority.name!r}: {ws.ca_cert_path}")
    return 0


def cmd_issue_server(args: argparse.Namespace) -> int:
    from core.profiles import parse_hosts, server_lifetime_warning

    ws = existing_workspace(args.workspace)
    hosts = args.host or ["localhost", "127.0.0.1", "::1"]
    parse_hosts(hosts)  # a bad or "any" address is refused before the passphrase is asked
    authority = ws.load_ca(ca_passphrase(ws, args.passphrase_file))

    warning = server_lifetime_warning(args.days)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    cert = ws.issue_server(authority, hosts=hosts, key_type=KeyType.parse(args.key_type), valid_days=args.days)
    _out(args, {"certificate": str(ws.server_cert_path), "hosts": hosts, "serial": format(cert.serial_number, "X")},
         f"Issued server certificate for {', '.join(hosts)}: {ws.server_cert_path}")
    return 0


def given_or_generated(file: Path | None, env: str) -> tuple[str, bool]:
    """A password from a file or the environment, else a generated one (to be shown once)."""
    if file is not None:
        return read_secret_file(file), False
    if os.environ.get(env):
        return os.environ[env], False
    return generate_password(), True


def _seconds(text: str) -> float:
    """argparse type: a finite number of seconds from 0.1 to 600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.1 <= value <= 600:  # also false for nan and inf
        raise argparse.ArgumentTypeError(f"{text} seconds: choose 0.1 to 600")
    return value


def registry_problem(exc: sqlite3.Error) -> str:
    """What a registry error means for the user: only a damaged file needs its backup."""
    text = str(exc).lower()
    if "full" in text:
        return f"the disk is full ({exc}); free some space and try again (the registry itself is unchanged)"
    if any(w in text for w in ("readonly", "read-only", "unable to open", "i/o error", "locked", "permission")):
        return (f"the workspace registry cannot be written ({exc}): check that the workspace folder is writable, "
                "on a working disk, and not in use by a stuck process (the registry itself is unchanged)")
    return f"the workspace registry is damaged ({exc}); restore registry.sqlite3 from a backup"


def existing_workspace(path: Path) -> Workspace:
    """Raises: CliError when the folder is not a workspace with a CA (so a typo creates nothing)."""
    ws = Workspace(path)
    if not ws.has_ca():
        raise CliError(f"there is no CA in {ws.root}; create one with `init` (or check the --workspace path)")
    return ws


def cmd_issue_client(args: argparse.Namespace) -> int:
    ws = existing_workspace(args.workspace)
    authority = ws.load_ca(ca_passphrase(ws, args.passphrase_file))
    password, shown = given_or_generated(args.bundle_password_file, ENV_BUNDLE)
    issued = ws.issue_client_bundle(authority, name=args.name, email=args.email, password=password,
                                    key_type=KeyType.parse(args.key_type), valid_days=args.days,
                                    profile=BundleProfile.parse(args.profile))
    data = {"bundle": str(issued.bundle_path), "certificate": str(issued.cert_path),
            "serial": format(issued.certificate.serial_number, "X")}
    if shown:
        data["password"] = password
    _out(args, data, f"Issued {issued.bundle_path}" + (f"\nBundle password (shown once): {password}" if shown else ""))
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    ws = existing_workspace(args.workspace)
    if args.list:
        names = ws.users.usernames()
        _out(args, {"users": names}, "\n".join(names) if names else "no logins yet (add one: python main.py user NAME)")
        return 0
    if not args.username:
        raise CliError("give a username (or --list)")
    if args.remove:
        if args.username not in ws.users.usernames():
            raise CliError(f"there is no login {args.username!r} (see: python main.py user --list)")
        ws.users.remove(args.username)
        _out(args, {"removed": args.username}, f"Login {args.username} removed; anyone logged in with it is "
             "logged out")
        return 0
    password, shown = given_or_generated(args.password_file, ENV_PASSWORD)
    ws.users.set_password(args.username, password)
    data = {"username": args.username}
    if shown:
        data["password"] = password
    _out(args, data, f"Login {args.username} set" + (f"; password (shown once): {password}" if shown else ""))
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    ws = existing_workspace(args.workspace)
    authority = ws.load_ca(ca_passphrase(ws, args.passphrase_file))
    record = ws.revoke(authority, args.certificate, reason=args.reason)
    _out(args, {"serial": record.serial, "name": record.common_name, "status": record.status,
                "crl": str(ws.crl_pem_path)},
         f"Revoked {record.common_name} ({record.serial}); CRL updated: {ws.crl_pem_path}")
    return 0


def cmd_crl(args: argparse.Namespace) -> int:
    ws = existing_workspace(args.workspace)
    crl = ws.publish_crl(ws.load_ca(ca_passphrase(ws, args.passphrase_file)))
    _out(args, {"crl": str(ws.crl_pem_path), "der": str(ws.crl_der_path), "revoked": len(list(crl)),
                "next_update": crl.next_update_utc.isoformat() if crl.next_update_utc else None},
         f"CRL re-signed ({len(list(crl))} revoked): {ws.crl_pem_path}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    ws = existing_workspace(args.workspace)
    records = ws.registry.list()
    if args.json:
        print(json.dumps([{"serial": r.serial, "kind": r.kind, "name": r.common_name, "status": r.status,
                           "not_after": r.not_after.isoformat(), "fingerprint_sha256": r.fingerprint_sha256,
                           "bundle": r.bundle_path} for r in records], indent=2))
    else:
        names = [one_line(r.common_name) for r in records]  # an imported CA's name is someone else's text
        width = max([len(n) for n in names] + [4])
        print(f"{'KIND':7} {'STATUS':8} {'EXPIRES':10}  {'NAME':{width}}  SERIAL")
        for r, name in zip(records, names, strict=True):
            print(f"{r.kind:7} {r.status:8} {r.not_after:%Y-%m-%d}  {name:{width}}  {r.serial}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from embedded_server.site import DemoSite, SiteConfig

    if not args.host.strip():
        raise CliError("--host is empty; give 127.0.0.1 (this machine only) or the address of one interface")
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a port number (0 to 65535; 0 picks a free one)")
    ws = existing_workspace(args.workspace)
    host = args.host.strip().strip("[]")  # "[::1]" as typed in a URL, or stray spaces from a script
    site = DemoSite(SiteConfig.from_workspace(ws, host=host, port=args.port, mode=args.mode,
                                              require_user_match=args.match_cn))
    if args.json:  # one JSON object per line: the events as the site's log file has them
        site.events.subscribe(lambda e: print(e.to_json(), flush=True))
    else:
        # one_line: a certificate's subject is the client's text; it must not clear the screen or fake a log line
        site.events.subscribe(lambda e: print(f"{e.time:%H:%M:%S} {e.kind:20} {one_line(e.message)}", flush=True))
    stop = threading.Event()
    # SIGTERM (systemd, kill, a container stop) ends the site as Ctrl-C does: cleanly, logged.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        url = site.start()
        if not args.json:
            how = ("strict: no certificate, no connection" if args.mode == "strict"
                   else "friendly: a visitor without a certificate gets a how-to page")
            print(f"Serving {url} ({how}; logins {'only for the certificate owner' if args.match_cn else 'open'}"
                  f"; Ctrl-C to stop)", flush=True)
            _warn_if_crl_ends_soon(ws)
            served = _server_record(ws)
            if served is not None and served.status == "revoked":
                print(f"warning: the server certificate {served.serial} is revoked ({served.revocation_reason}); "
                      "issue a new one: python main.py issue-server", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(args.seconds if args.seconds else None)
    finally:
        site.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0


def _warn_if_crl_ends_soon(ws: Workspace) -> None:
    """The site enforces the CRL; once its nextUpdate passes, every student is refused until it is re-signed."""
    from cryptography import x509

    try:
        crl = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    except (OSError, ValueError):
        return
    ends = crl.next_update_utc
    if ends is None:
        return
    left = ends - dt.datetime.now(dt.UTC)
    if left < dt.timedelta(days=15):
        print(f"warning: the revocation list runs out on {ends:%Y-%m-%d %H:%M} UTC; after that the site refuses "
              "every student until it is re-signed: run  python main.py crl  (it needs the CA passphrase)",
              file=sys.stderr, flush=True)


def _wants_password(bundle: Path) -> bool:
    """Whether a --bundle file needs a password to open: a .p12, or PEM with an encrypted key."""
    try:
        if not bundle.is_file():
            return False  # missing, a folder, a pipe: the Bundle step says so
        with bundle.open("rb") as fh:
            head = fh.read(1 << 20)
    except OSError:
        return False
    if b"-----BEGIN " in head:  # PEM (openssl's output may start with "Bag Attributes" lines)
        return b"ENCRYPTED" in head
    return True


def cmd_test(args: argparse.Namespace) -> int:
    bundle_password = ""
    # A .p12 always has a password; a PEM key given with --key may have none, and a file
    # that is missing or no bundle at all is named by the report's first step, not here.
    if args.bundle is not None and (args.bundle_password_file or os.environ.get(ENV_BUNDLE)
                                    or _wants_password(args.bundle if args.key is None else args.key)):
        bundle_password = get_secret(file=args.bundle_password_file, env=ENV_BUNDLE, prompt="Bundle password: ",
                                     what="bundle password")
    password = None
    if args.username:
        password = get_secret(file=args.password_file, env=ENV_PASSWORD, prompt="Login password: ", what="password")
    report = run_connection_test(ConnectionTestInput(
        url=args.url, ca_cert=args.ca, bundle=args.bundle, bundle_password=bundle_password, key_file=args.key,
        username=args.username, password=password, timeout=args.timeout, tls_version=args.tls))
    print(report.to_json() if args.json else report.to_text())
    failed = report.failed_step
    if failed is not None and not args.json:
        print(f"failed step: {failed.key}", file=sys.stderr)
    return 0 if report.ok else 1


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def cmd_roster(args: argparse.Namespace) -> int:
    from core.roster import check_batch_options, issue_roster, parse_roster, read_roster_file

    check_batch_options(valid_days=args.days, workers=args.workers)
    ws = existing_workspace(args.workspace)
    out = args.out.expanduser().resolve()
    # every problem, before the passphrase
    already: list[Any] = []
    rows = parse_roster(read_roster_file(args.roster), out_dir=out, workspace=ws,
                        skip_issued=already if args.skip_issued else None)
    if already and not args.json:
        n = len(already)
        print(f"Skipping {n} student{'' if n == 1 else 's'} who already {'has' if n == 1 else 'have'} a valid "
              f"certificate: {', '.join(r.name for r in already[:10])}{' ...' if n > 10 else ''}", file=sys.stderr)
    if not rows:
        _out(args, {"out": str(out), "issued": 0, "skipped_issued": len(already)},
             "Nothing to issue: every student in the roster already has a valid certificate")
        return 0
    authority = ws.load_ca(ca_passphrase(ws, args.passphrase_file))

    finished = [0]

    def progress(done: int, total: int, name: str) -> None:
        finished[0] = done
        if not args.json:
            print(f"[{done}/{total}] {name}", file=sys.stderr, flush=True)

    # SIGTERM ends a batch as Ctrl-C does: the finished bundles stay, and the user learns how to go on.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = issue_roster(ws, authority, rows, out_dir=out, key_type=KeyType.parse(args.key_type),
                              valid_days=args.days, profile=BundleProfile.parse(args.profile), progress=progress,
                              workers=args.workers)
    except KeyboardInterrupt:
        print(f"Interrupted: {finished[0]} of {len(rows)} bundles were issued into {out}; their passwords are in "
              "the newest handout*.csv there. To issue the rest, run the same command again with --skip-issued.",
              file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    n = len(result.issued)
    text = f"Issued {n} bundle{'' if n == 1 else 's'} into {out}; passwords in {result.handout} (owner-only)"
    if result.skipped:
        text += "\nNot issued (given a certificate elsewhere while the batch ran):\n" + "\n".join(
            f"  {why}" for _row, why in result.skipped)
    _out(args, {"out": str(out), "handout": str(result.handout), "issued": n,
                "bundles": [str(b) for _r, b, _p in result.issued],
                "skipped": [why for _row, why in result.skipped]}, text)
    return 1 if result.skipped else 0


def cmd_renew(args: argparse.Namespace) -> int:
    if args.days is not None and args.days < 1:
        raise CliError(f"--days {args.days}: a certificate must be valid for at least 1 day")
    ws = existing_workspace(args.workspace)
    authority = ws.load_ca(ca_passphrase(ws, args.passphrase_file))
    record = ws.find_for_renewal(args.certificate)
    password, shown = (None, False)
    if record.kind == "client":
        password, shown = given_or_generated(args.bundle_password_file, ENV_BUNDLE)
    new = ws.renew(authority, args.certificate, password=password, revoke_old=args.revoke_old,
                   reason=args.reason, valid_days=args.days,
                   profile=BundleProfile.parse(args.profile) if args.profile else None)
    data: dict[str, Any] = {"serial": new.serial, "old_serial": record.serial, "name": new.common_name,
                            "kind": new.kind,
                            "old_revoked": record.status == "revoked" or args.revoke_old or record.kind == "server",
                            "certificate": new.cert_path, "bundle": new.bundle_path}
    if shown:
        data["password"] = password
    if record.status == "revoked":
        fate = f"already revoked ({record.revocation_reason or 'unspecified'})" + (
            "; kept in server/archive/" if record.kind == "server" else "; its files archived")
    elif record.kind == "server":
        fate = "superseded, kept in server/archive/"
    else:
        fate = "revoked" if args.revoke_old else "still valid; its files archived"
    text = f"Renewed {new.common_name}: new serial {new.serial} (old {record.serial}: {fate})"
    if new.kind == "client" and new.bundle_path:
        bundle = ws.path_of(new.bundle_path)
        text += f"\nNew bundle: {bundle}"
        text += ("\nBundle password (shown once): " + str(password)) if shown else " (password from your file)"
        if any(bundle.parent.glob("handout*.csv")):
            text += ("\nNote: the roster handout in that folder still lists the old bundle's password; "
                     "give the student the new one.")
    elif new.cert_path:
        text += f"\nNew certificate: {ws.path_of(new.cert_path)}"
    _out(args, data, text)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from core.doctor import diagnose_bundle

    password = get_secret(file=args.bundle_password_file, env=ENV_BUNDLE, prompt="Bundle password: ",
                          what="bundle password")
    report = diagnose_bundle(args.bundle, password, ca_cert=args.ca, crl=args.crl)
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.healthy else 1


def cmd_import_ca(args: argparse.Namespace) -> int:
    from core.importer import import_p12, import_pem

    ws = Workspace(args.workspace)
    if ws.has_ca():
        raise CliError(f"{ws.root} already has a CA ({one_line(common_name(ws.ca_certificate()))}); import into a "
                       "new folder")

    def read(path: Path) -> bytes:
        return read_bounded(path, MAX_INPUT_FILE, "file")

    if args.p12 is not None:
        p12_password = get_secret(file=args.p12_password_file, env="MTLSLAB_P12_PASSWORD",
                                  prompt=".p12 password: ", what="p12 password")
        imported = import_p12(read(args.p12), p12_password)
    elif args.cert is not None and args.key is not None:
        key_data = read(args.key)
        key_password = None
        if b"ENCRYPTED" in key_data:
            key_password = get_secret(file=args.key_password_file, env="MTLSLAB_KEY_PASSWORD",
                                      prompt="CA key password: ", what="key password")
        imported = import_pem(read(args.cert), key_data, key_password=key_password)
    else:
        raise CliError("give --cert CERT --key KEY, or --p12 FILE")
    passphrase = get_secret(file=args.passphrase_file, env=ENV_CA, prompt="New CA passphrase for this workspace: ",
                            what="passphrase", confirm=True)
    ws.import_ca(imported.authority, passphrase=passphrase)
    data = {"ca": imported.authority.name, "certificate": str(ws.ca_cert_path), "warnings": imported.warnings}
    text = f"Imported CA {imported.authority.name!r}: {ws.ca_cert_path}"
    text += "".join(f"\nwarning: {w}" for w in imported.warnings)
    _out(args, data, text)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.export import (
        ExportFormat,
        ExportRefused,
        export_bundle,
        export_ca_for_browsers,
        export_certificates,
    )

    ws = existing_workspace(args.workspace)
    fmt = ExportFormat.parse(args.format) if args.format else None
    if not args.out.strip():
        raise CliError("--out is empty; give a file name (or, for 'ca', a folder ending in /)")
    # Path() drops a trailing slash, which is what says "a folder" for a path not there yet.
    as_folder = args.out.endswith(("/", os.sep))
    out = Path(args.out).expanduser()
    protected = ws.protected_paths()
    if args.what == "ca" and (as_folder or out.is_dir()):
        crt, cer = export_ca_for_browsers(ws.trust_anchor(), out, overwrite=args.force, protected=protected)
        _out(args, {"pem": str(crt), "der": str(cer)}, f"Wrote {crt} (PEM) and {cer} (DER)")
        return 0
    if as_folder or out.is_dir():
        raise ExportRefused(f"{args.out} is a folder; give a file name such as {out / 'certificate.crt'}")
    record = None if args.what == "ca" else ws.find(args.what)
    if out.suffix.lower() in (".p12", ".pfx") and fmt is None:
        if record is None or record.bundle_path is None:
            raise ExportRefused(f"{args.what} has no bundle to copy; a .p12 is only made for a student")
        path = export_bundle(ws.path_of(record.bundle_path), out, overwrite=args.force, protected=protected)
        _out(args, {"out": str(path), "bundle": True},
             f"Copied {record.common_name}'s bundle to {path} (the same password as the original)")
        return 0
    certs = [ws.trust_anchor()] if record is None else ws.certificate_of(record, chain=args.chain)
    path = export_certificates(certs, out, fmt=fmt, overwrite=args.force, protected=protected)
    _out(args, {"out": str(path), "certificates": len(certs)}, f"Wrote {len(certs)} certificate(s) to {path}")
    return 0


def _out(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def add_old_password_file_alias(p: argparse.ArgumentParser) -> None:
    """``--password-file`` meant the bundle password here before ``--bundle-password-file``; kept, unlisted,
    so scripts keep working (elsewhere, in ``user`` and ``test``, it is the login password)."""
    p.add_argument("--password-file", type=Path, dest="bundle_password_file", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="mTLS Lab: run a classroom CA, issue client bundles, serve a mutual-TLS demo site, "
        "and test connections. Without a command, the GUI opens.",
        epilog=f"Secrets are never taken as arguments: use the *-file options, the environment "
        f"({ENV_CA}, {ENV_BUNDLE}, {ENV_PASSWORD}) or the prompt.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        assert name in COMMANDS, name
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE,
                       help=f"workspace folder (default {DEFAULT_WORKSPACE}, or $MTLSLAB_WORKSPACE)")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=func)
        return p

    add("gui", lambda _a: 0, "open the GUI (the default)")
    p = add("demo", cmd_demo, "the whole walkthrough headless: CA, server certificate, bundle, login, site, "
            "Test Connection; creates only what is missing; exits 0 when every step passed")
    p.add_argument("--passphrase-file", type=Path,
                   help=f"file holding the CA passphrase of an existing CA (or ${ENV_CA}; a new CA gets a "
                   "generated one, kept in secrets/ca-passphrase)")

    p = add("init", cmd_init, "create the workspace's root CA")
    p.add_argument("--name", default="mTLS Lab Classroom CA", help="the CA's common name")
    p.add_argument("--org", default=None, help="organization name")
    p.add_argument("--key-type", default="ec-p256", help="ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096")
    p.add_argument("--days", type=int, default=CA_DEFAULT_DAYS, help="validity in days (default 10 years)")
    p.add_argument("--passphrase-file", type=Path, help="file holding the new CA passphrase")
    p.add_argument("--generate-passphrase", action="store_true",
                   help="generate the passphrase, show it once and keep it owner-only in secrets/")
    p.add_argument("--intermediate", action="store_true",
                   help="a root CA (ca/root.key: move it offline) and an intermediate that issues everything")

    p = add("issue-server", cmd_issue_server, "issue the demo site's server certificate")
    p.add_argument("--host", action="append", help="host name or IP address (repeatable; default localhost, "
                   "127.0.0.1, ::1)")
    p.add_argument("--key-type", default="ec-p256", help="ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096")
    p.add_argument("--days", type=int, default=SERVER_DEFAULT_DAYS,
                   help=f"validity in days (default {SERVER_DEFAULT_DAYS}; Apple refuses more than 825)")
    p.add_argument("--passphrase-file", type=Path, help=f"file holding the CA passphrase (or ${ENV_CA})")

    p = add("issue-client", cmd_issue_client, "issue one student's password-protected .p12 bundle")
    p.add_argument("name", help="the student's name (becomes the certificate's CN and the file name)")
    p.add_argument("--email", help="e-mail address put in the certificate")
    p.add_argument("--key-type", default="ec-p256", help="ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096")
    p.add_argument("--days", type=int, default=CLIENT_DEFAULT_DAYS,
                   help=f"validity in days (default {CLIENT_DEFAULT_DAYS}, about a school term)")
    p.add_argument("--profile", default="modern", help="bundle encryption: modern (default: Firefox, Chrome, "
                   "Windows 10+) or compatible (macOS Keychain, older Windows, Java 8, Android)")
    p.add_argument("--bundle-password-file", type=Path,
                   help=f"file holding the bundle password (or ${ENV_BUNDLE}; default: generate one, shown once)")
    add_old_password_file_alias(p)
    p.add_argument("--passphrase-file", type=Path, help=f"file holding the CA passphrase (or ${ENV_CA})")

    p = add("user", cmd_user, "add a demo site login or change its password (--remove, --list)")
    p.add_argument("username", nargs="?")
    p.add_argument("--remove", action="store_true", help="remove this login")
    p.add_argument("--list", action="store_true", help="list the logins")
    p.add_argument("--password-file", type=Path,
                   help=f"file holding the password (or ${ENV_PASSWORD}; default: generate one, shown once)")

    add("list", cmd_list, "list issued certificates")

    p = add("roster", cmd_roster, "issue one bundle per student of a roster CSV (name[,email[,password]]) into "
            "a folder, with a handout CSV of file names and passwords; every row is checked first")
    p.add_argument("roster", type=Path, help="the roster CSV (UTF-8; header optional)")
    p.add_argument("--out", type=Path, required=True, help="folder for the bundles and handout.csv")
    p.add_argument("--key-type", default="ec-p256", help="ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096")
    p.add_argument("--days", type=int, default=CLIENT_DEFAULT_DAYS, help="validity in days")
    p.add_argument("--profile", default="modern", help="bundle encryption: modern (default) or compatible "
                   "(macOS Keychain, older Windows, Java 8, Android)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per CPU core; at most 4 per core)")
    p.add_argument("--skip-issued", action="store_true",
                   help="leave out students who already have a valid certificate instead of refusing the roster "
                   "(to finish an interrupted batch with the same file)")
    p.add_argument("--passphrase-file", type=Path, help=f"file holding the CA passphrase (or ${ENV_CA})")

    p = add("import-ca", cmd_import_ca, "make an existing CA (openssl, easy-rsa, Java keytool) this workspace's "
            "CA; prints profile warnings with their consequences")
    p.add_argument("--cert", type=Path, help="the CA certificate, PEM or DER")
    p.add_argument("--key", type=Path, help="its private key, PEM (encrypted or not)")
    p.add_argument("--key-password-file", type=Path, help="file holding the key's password (or $MTLSLAB_KEY_PASSWORD)")
    p.add_argument("--p12", type=Path, help="a .p12 holding the CA key and certificate (instead of --cert/--key)")
    p.add_argument("--p12-password-file", type=Path, help="file holding the .p12 password (or $MTLSLAB_P12_PASSWORD)")
    p.add_argument("--passphrase-file", type=Path,
                   help=f"file holding the new passphrase the key is stored with (or ${ENV_CA})")

    p = add("export", cmd_export, "export the CA certificate or any certificate/chain as PEM, DER or PKCS#7, "
            "or copy a student's bundle")
    p.add_argument("what", help="'ca', or a certificate's serial (hex) or client name")
    p.add_argument("--out", required=True,
                   help="output file (.crt/.pem PEM, .cer/.der DER, .p7b PKCS#7, .p12/.pfx a copy of the student's "
                   "bundle); for 'ca', an existing folder or a path ending in / (created) gets ca.crt and ca.cer; an "
                   "existing file is kept unless --force")
    p.add_argument("--force", action="store_true",
                   help="replace an existing file (never anything in the workspace's ca/, secrets/, server/, site/, "
                   "registry, a file it records, and never a device or pipe)")
    p.add_argument("--format", choices=["pem", "der", "p7b"], help="override the format the file name implies")
    p.add_argument("--chain", action="store_true", help="add the CA chain after the certificate (PEM or p7b)")

    p = add("renew", cmd_renew, "renew a client or server certificate: new key and serial, same subject; "
            "a client's old files are archived")
    p.add_argument("certificate", help="serial number (hex) or the client's name")
    p.add_argument("--revoke-old", action="store_true", help="also revoke the old certificate")
    p.add_argument("--reason", default="superseded", help="revocation reason with --revoke-old")
    p.add_argument("--days", type=int, default=None, help="validity in days (default: the old one's)")
    p.add_argument("--profile", default=None, help="bundle encryption: modern or compatible (default: the same as "
                   "the old bundle)")
    add_old_password_file_alias(p)
    p.add_argument("--bundle-password-file", type=Path,
                   help=f"file holding the new bundle's password (or ${ENV_BUNDLE}; default: generate one, "
                   "shown once)")
    p.add_argument("--passphrase-file", type=Path, help=f"file holding the CA passphrase (or ${ENV_CA})")

    p = add("revoke", cmd_revoke, "revoke a certificate (by serial or client name) and re-sign the CRL; "
            "a running site refuses it from the next connection")
    p.add_argument("certificate", help="serial number (hex) or the client's name")
    p.add_argument("--reason", default="unspecified",
                   help="RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded, "
                   "cessationOfOperation, certificateHold, privilegeWithdrawn, cACompromise")
    p.add_argument("--passphrase-file", type=Path, help=f"file holding the CA passphrase (or ${ENV_CA})")

    p = add("crl", cmd_crl, "re-sign the certificate revocation list (ca/crl.pem and ca/crl.der)")
    p.add_argument("--passphrase-file", type=Path, help=f"file holding the CA passphrase (or ${ENV_CA})")

    p = add("serve", cmd_serve, "run the demo site until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8443, help="port (default 8443; 0 picks a free one)")
    p.add_argument("--mode", choices=["strict", "friendly"], default="strict",
                   help="strict (default): no certificate, no TLS handshake, as nginx's ssl_verify_client on; "
                   "friendly: without a certificate the handshake completes and a page explains how to import "
                   "the bundle (bad certificates are still refused)")
    p.add_argument("--match-cn", action="store_true",
                   help="accept a login only for the username equal to the certificate's CN or e-mail address "
                   "(per-student certificates)")
    p.add_argument("--seconds", type=float, default=0, help=argparse.SUPPRESS)

    p = sub.add_parser("test", help="Test Connection: check a bundle and a mutual-TLS site step by step",
                       description="Test Connection: open the bundle, handshake, check the client certificate is "
                       "accepted, log in and reach the protected page. Exits 1 and names the failed step on failure.")
    p.add_argument("url", help="https://host:port/")
    p.add_argument("--ca", type=Path, required=True, help="the CA certificate the server must chain to")
    p.add_argument("--bundle", type=Path, help="the client .p12 bundle, or a PEM certificate (+ key); without it "
                   "the test shows what the server does when no client certificate is sent")
    p.add_argument("--key", type=Path, help="the PEM private key of a PEM --bundle certificate")
    p.add_argument("--bundle-password-file", type=Path, help=f"file holding the bundle password (or ${ENV_BUNDLE})")
    p.add_argument("--username", help="login name (login steps are skipped without it)")
    p.add_argument("--password-file", type=Path, help=f"file holding the login password (or ${ENV_PASSWORD})")
    p.add_argument("--timeout", type=_seconds, default=10.0, help="seconds per network step (0.1 to 600)")
    p.add_argument("--tls", choices=["1.2", "1.3"], help="pin the TLS version (default: the best both speak)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("doctor", help="Bundle doctor: what is inside a .p12, its encryption, and what to fix",
                       description="Bundle doctor (offline): the key and certificate inside, the encryption "
                       "(modern or compatible) and where it imports, validity, clientAuth, key match and the chain "
                       "to a chosen CA. Exits 0 when healthy, 1 when there is something to fix.")
    p.add_argument("bundle", type=Path, help="the .p12 / .pfx bundle")
    p.add_argument("--ca", type=Path, help="the CA certificate the bundle should chain to")
    p.add_argument("--crl", type=Path, help="a revocation list to look the certificate up in (default: crl.pem "
                   "beside the --ca file, as in a workspace's ca/ folder)")
    p.add_argument("--bundle-password-file", type=Path, help=f"file holding the bundle password (or ${ENV_BUNDLE})")
    add_old_password_file_alias(p)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    folder = getattr(args, "workspace", None)
    if isinstance(folder, Path) and folder.expanduser().exists() and not folder.expanduser().is_dir():
        print(f"error: --workspace {folder} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except (CliError, WorkspaceError, BundleError, ValueError, KeyError, OverflowError) as exc:
        from core.roster import RosterError

        if isinstance(exc, RosterError) and len(exc.problems) > 1:  # one per line, every one of them
            print(f"error: the roster has {len(exc.problems)} problems:", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {one_line(problem)}", file=sys.stderr)
        else:
            print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, RosterError) and any("already has a valid certificate" in p for p in exc.problems):
            print("(finishing an interrupted batch? run the same command with --skip-issued)", file=sys.stderr)
        return 2
    except BrokenPipeError:  # list | head: the reader has what it wanted
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (no flush error at exit)
        return 0
    except sqlite3.Error as exc:
        print(f"error: {registry_problem(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from embedded_server.site import SiteError

        if isinstance(exc, SiteError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
