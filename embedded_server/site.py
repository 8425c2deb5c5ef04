"""Run the demo site: stock waitress on loopback, the TLS front on the public address."""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import waitress
from cryptography import x509

from core.site_users import UserStore
from core.workspace import Workspace
from embedded_server.app import create_app
from embedded_server.events import EventLog
from embedded_server.identity import IdentityTable
from embedded_server.sessions import SESSION_LIFETIME, SessionStore
from embedded_server.tls_front import HANDSHAKE_TIMEOUT, MAX_CONNECTIONS, TlsFront

DEFAULT_PORT = 8443
# strict: no certificate, no handshake (what nginx's ssl_verify_client on does).
# friendly: a connection without a certificate completes and gets a 403 page that
# explains how to import the bundle; a bad certificate is still refused in the handshake.
MODES = ("strict", "friendly")


@dataclass(frozen=True)
class SiteConfig:
    """What the site needs: the server identity, the CA that signs clients, the users."""

    server_cert: Path  # leaf + chain, PEM
    server_key: Path  # PEM, encrypted
    server_key_password: str
    ca_cert: Path  # client certificates must chain to this
    users_file: Path
    host: str = "127.0.0.1"
    port: int = 0
    event_log_file: Path | None = None
    crl: Path | None = None  # enforced for client certificates; when set, the file must exist
    mode: str = "strict"
    # Certificate-to-user mapping: a login is accepted only for the username that
    # equals the certificate's CN or one of its e-mail addresses (per-student certificates).
    require_user_match: bool = False
    session_lifetime: float = SESSION_LIFETIME
    # Seconds a client has from TCP connect to a finished handshake (then it is closed).
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    # Where the key's password lives, read again at every reload: a re-issued server
    # certificate comes with a new key under a new password (server_key_password is then
    # only the first one).
    server_key_password_file: Path | None = None

    @classmethod
    def from_workspace(
        cls, workspace: Workspace, *, host: str = "127.0.0.1", port: int = 0, mode: str = "strict",
        require_user_match: bool = False,
    ) -> SiteConfig:
        """The site of a workspace: its server certificate, CA, users and event log.

        Raises:
            SiteError: the workspace has no CA or no server certificate yet.
        """
        if mode not in MODES:
            raise SiteError(f"unknown mode {mode!r}; choose strict or friendly")
        if not workspace.has_ca():
            raise SiteError(f"there is no CA in {workspace.root} yet; create one first")
        if not workspace.has_server():
            raise SiteError("the demo site has no server certificate yet; issue one first")
        return cls(
            server_cert=workspace.server_cert_path,
            server_key=workspace.server_key_path,
            server_key_password=workspace.server_key_password(),
            server_key_password_file=workspace.server_key_pass_path,
            ca_cert=workspace.ca_cert_path,
            users_file=workspace.users_path,
            host=host,
            port=port,
            event_log_file=workspace.site_dir() / "events.jsonl",
            crl=workspace.crl_pem_path,
            mode=mode,
            require_user_match=require_user_match,
        )


class SiteError(RuntimeError):
    """The site could not start; the message says why in plain words."""


def bind_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address ``host`` names, as the operating system would read it; None for a host name.

    The socket layer accepts more spellings than :mod:`ipaddress` (``0``, ``0x0``,
    ``127.1``: inet_aton's legacy forms) and ignores surrounding spaces, so those are
    read the same way here; otherwise ``::0`` or ``0`` would slip past a check by text.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0] if ":" in text else text)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None


def check_certificate_covers_host(cert_path: Path, host: str) -> None:
    """Make sure the server certificate names the address the site binds.

    A browser on a classroom LAN reaches the site by that address (or this
    machine's host name); a certificate for localhost only would fail there with
    a name mismatch that looks like the site's fault rather than the setup's.

    Raises:
        SiteError: the address is a wildcard, or the certificate does not cover it.
    """
    hostname = socket.gethostname()
    fix = f"python main.py issue-server --host {host} --host {hostname} --host localhost --host 127.0.0.1"
    address = bind_address(host)
    # ::ffff:0.0.0.0 is 0.0.0.0 to a dual-stack socket: every IPv4 interface.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if not host.strip() or (address is not None and (address.is_unspecified or (mapped and mapped.is_unspecified))):
        raise SiteError(
            f"binding {host.strip() or 'every interface'} would expose the site on every network; "
            "give the address of one interface with --host, e.g. 192.168.1.20"
        )
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except FileNotFoundError as exc:
        raise SiteError("the demo site has no server certificate yet; issue one first") from exc
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise SiteError(f"the server certificate {cert_path} has no usable subjectAltName; run: {fix}") from exc
    if address is not None:
        covered = address in san.get_values_for_type(x509.IPAddress)
    else:
        covered = host.lower().rstrip(".") in (n.lower() for n in san.get_values_for_type(x509.DNSName))
    if not covered:
        raise SiteError(
            f"the server certificate does not cover {host}, so browsers would refuse the site there; "
            f"issue a new one first: {fix}"
        )


def make_server_context(config: SiteConfig) -> ssl.SSLContext:
    """A TLS 1.2+ server context that demands a client certificate signed by the CA.

    Raises:
        SiteError: a certificate or key file is missing or does not load.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        password = config.server_key_password
        if config.server_key_password_file is not None:
            password = config.server_key_password_file.read_text(encoding="utf-8").strip()
        ctx.load_cert_chain(config.server_cert, config.server_key, password=password)
    except FileNotFoundError as exc:
        raise SiteError(
            f"the server certificate or key is missing ({exc.filename}); issue a server certificate"
        ) from exc
    except ssl.SSLError as exc:
        raise SiteError(f"the server certificate and key do not load: {exc.reason or exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError(f"the server certificate or key cannot be read: {exc}") from exc
    try:
        ctx.load_verify_locations(cafile=config.ca_cert)
    except (OSError, ssl.SSLError) as exc:
        raise SiteError(f"the CA certificate {config.ca_cert} does not load") from exc
    if config.crl is not None:
        # A CRL that was configured and is gone fails closed: serving without it would let
        # every revoked student back in (a running site keeps the last CRL that loaded).
        if not config.crl.is_file():
            raise SiteError(f"the revocation list {config.crl} is missing; re-sign it (python main.py crl, or "
                            "unlock the CA in the app) before the site can check revocations")
        try:
            ctx.load_verify_locations(cafile=config.crl)
        except ssl.SSLError as exc:
            raise SiteError(f"the revocation list {config.crl} does not load") from exc
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    ctx.verify_mode = ssl.CERT_OPTIONAL if config.mode == "friendly" else ssl.CERT_REQUIRED
    return ctx


class DemoSite:
    """The demo site, startable and stoppable (from any thread, any number of times)."""

    def __init__(self, config: SiteConfig, *, events: EventLog | None = None) -> None:
        self.config = config
        self.events = events or EventLog(path=config.event_log_file)
        self._lock = threading.Lock()
        self._front: TlsFront | None = None
        self._server: waitress.server.BaseWSGIServer | None = None
        self._loop: threading.Thread | None = None
        self._context: ssl.SSLContext | None = None
        self._stamp: tuple[int, ...] = ()

    @property
    def running(self) -> bool:
        return self._front is not None

    @property
    def address(self) -> tuple[str, int]:
        if self._front is None:
            raise SiteError("the site is not running")
        return self._front.address

    @property
    def backend_address(self) -> tuple[str, int]:
        """waitress's loopback address (for diagnostics: a direct hit there is refused)."""
        if self._server is None:
            raise SiteError("the site is not running")
        return str(self._server.effective_host), int(self._server.effective_port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = "localhost" if host in ("127.0.0.1", "::1") else (f"[{host}]" if ":" in host else host)
        return f"https://{shown}:{port}/"

    def start(self) -> str:
        """Start serving and return the URL.

        Raises:
            SiteError: the port is in use, the address cannot be bound, or the certificates do not load.
        """
        with self._lock:
            if self._front is not None:
                return self.url
            check_certificate_covers_host(self.config.server_cert, self.config.host)
            try:
                UserStore(self.config.users_file).usernames()
            except ValueError as exc:
                raise SiteError(f"{exc}; restore it from a backup, or delete it and set the logins again "
                                "(python main.py user NAME, or the Demo Site page)") from None
            self._context, self._stamp = make_server_context(self.config), self._file_stamp()
            identities = IdentityTable()
            app = create_app(
                identities=identities,
                users=UserStore(self.config.users_file),
                events=self.events,
                sessions=SessionStore(self.config.session_lifetime),
                require_user_match=self.config.require_user_match,
            )
            # waitress stays on loopback with an ephemeral port; only the front faces clients.
            # connection_limit: waitress stops accepting at its default of 100, which 100
            # keep-alive browsers reach; every front connection needs its own backend one.
            server = waitress.create_server(
                app, host="127.0.0.1", port=0, threads=8, ident="mTLS Lab", channel_timeout=120,
                connection_limit=MAX_CONNECTIONS + 8,
                # poll: with hundreds of connections this process holds more than 1024
                # descriptors, which waitress's default select() loop cannot watch.
                asyncore_use_poll=True,
            )
            backend = (str(server.effective_host), int(server.effective_port))
            loop = threading.Thread(target=server.run, name="waitress-loop", daemon=True)
            loop.start()
            try:
                front = TlsFront(
                    context=self._current_context,
                    backend=backend,
                    identities=identities,
                    events=self.events,
                    host=self.config.host,
                    port=self.config.port,
                    handshake_timeout=self.config.handshake_timeout,
                )
            except OSError as exc:
                _stop_waitress(server, loop)
                if exc.errno == errno.EADDRINUSE:
                    raise SiteError(
                        f"port {self.config.port} on {self.config.host} is already in use; "
                        "stop the other program or choose another port"
                    ) from exc
                raise SiteError(f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}") from exc
            front.start()
            self._front, self._server, self._loop = front, server, loop
        self.events.emit("site-started", f"site started at {self.url}", url=self.url)
        return self.url

    def _file_stamp(self) -> tuple[int, ...]:
        stamp = []
        for path in (self.config.server_cert, self.config.server_key, self.config.server_key_password_file,
                     self.config.ca_cert, self.config.crl):
            try:
                stamp.append(path.stat().st_mtime_ns if path is not None else 0)
            except OSError:
                stamp.append(0)
        return tuple(stamp)

    def _current_context(self) -> ssl.SSLContext:
        """The context for a new connection, rebuilt when a certificate, key or the CRL changed on disk.

        Called by the front for every connection: five ``stat`` calls, so a revocation
        applies to the very next connection, without a restart.
        """
        stamp = self._file_stamp()
        with self._lock:
            context = self._context
            if stamp == self._stamp and context is not None:
                return context
            try:
                context = make_server_context(self.config)
            except SiteError as exc:
                # Half-written state elsewhere (files are replaced atomically, but one by one):
                # keep serving with what worked and try again on the next connection.
                self.events.emit("reload-failed", f"kept the previous certificates: {exc}")
                assert self._context is not None
                return self._context
            self._context, self._stamp = context, stamp
        self.events.emit("reloaded", "certificates or revocation list reloaded")
        return context

    def stop(self) -> None:
        """Stop the front and waitress, and wait for their threads."""
        with self._lock:
            front, server, loop = self._front, self._server, self._loop
            self._front = self._server = self._loop = None
        if front is None or server is None or loop is None:
            return
        front.stop()
        _stop_waitress(server, loop)
        self.events.emit("site-stopped", "site stopped")


def _stop_waitress(server: waitress.server.BaseWSGIServer, loop: threading.Thread) -> None:
    # Closing waitress's sockets from this thread while its loop sits in select()
    # makes the loop fail with EBADF; so the close runs *in* the loop thread, as a
    # thunk handed over through waitress's trigger (the same mechanism waitress uses
    # to wake its loop from worker threads). The front has already closed every
    # connection to waitress, so once the listener and trigger are gone the map is
    # empty and run() returns.
    trigger = getattr(server, "trigger", None)
    if trigger is not None and loop.is_alive():
        trigger.pull_trigger(server.close)
    else:
        server.close()
    loop.join(10)
    dispatcher = getattr(server, "task_dispatcher", None)
    if dispatcher is not None:
        dispatcher.shutdown(timeout=5)
