"""The mutual-TLS front in front of stock waitress.

waitress has no TLS of its own and its maintainers point to a terminating proxy
(Pylons/waitress #459). This is that proxy, in-process: it accepts TLS on the
public address, demands a client certificate signed by the CA, and pipes the
decrypted bytes to waitress on 127.0.0.1.

One thread per connection, with blocking sockets. This is deliberate:
* a failed server-side handshake on a blocking ``ssl`` socket sends the TLS alert
  (unknown ca, certificate required, ...) before the socket closes, which the
  asyncio transport does not (CPython gh-98078);
* a client that connects and sends nothing only holds its own thread, until the
  handshake timeout closes it; everyone else is served.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from embedded_server.events import EventLog
from embedded_server.identity import ClientIdentity, IdentityTable, NoCertificate, Peer

HANDSHAKE_TIMEOUT = 10.0  # seconds a client has to complete the TLS handshake
IDLE_TIMEOUT = 300.0  # seconds a connection may sit with no traffic either way
MAX_CONNECTIONS = 512  # a classroom is ~30 browsers with ~6 connections each
# One address may hold only this many connections that have not finished their
# handshake: a script opening hundreds of silent TCP connections from one machine
# then cannot use up MAX_CONNECTIONS and lock the class out. A real handshake takes
# milliseconds, so only a burst of this many simultaneous new connections from one
# address (a classroom behind one NAT, or 100 load-test clients on loopback) meets it.
MAX_HANDSHAKES_PER_ADDRESS = 128
# ... and at most this many connections in all. A classroom behind one NAT address
# (30 browsers x 6) stays below it; on loopback every client is 127.0.0.1.
MAX_CONNECTIONS_PER_ADDRESS = MAX_CONNECTIONS // 2
# Friendly mode lets a connection without a certificate complete the handshake
# just to show the how-to page; such a connection may not sit idle for long.
NO_CERTIFICATE_IDLE_TIMEOUT = 15.0
_QUIET_SECONDS = 5.0  # a flood of refusals from one address is logged once per this many seconds
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Refusal:
    """Why a handshake failed, in words for the event log."""

    reason: str
    detail: str


def explain_handshake_error(exc: BaseException) -> Refusal:
    """Turn an ``ssl`` exception from a server-side handshake into a plain reason."""
    detail = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        msg = (exc.verify_message or "").lower()
        # Before "expired": OpenSSL says "CRL has expired" of the site's own CRL, not the student's certificate.
        if "crl has expired" in msg or "crl is not yet valid" in msg:
            return Refusal("the site's revocation list is out of date (unlock the CA to re-sign it)", detail)
        if "expired" in msg:
            return Refusal("client certificate expired", detail)
        if "revoked" in msg:
            return Refusal("client certificate revoked", detail)
        if "certificate purpose" in msg:
            return Refusal("certificate not made for client authentication", detail)
        if "local issuer" in msg or "self-signed" in msg or "self signed" in msg:
            return Refusal("client certificate from an unknown CA", detail)
        return Refusal(f"client certificate rejected ({exc.verify_message})", detail)
    reason = getattr(exc, "reason", None) or ""
    if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return Refusal("no client certificate", detail)
    if reason in ("HTTP_REQUEST", "HTTPS_PROXY_REQUEST"):
        return Refusal("plain HTTP sent to the HTTPS port", detail)
    if reason in ("UNSUPPORTED_PROTOCOL", "NO_SHARED_CIPHER", "WRONG_VERSION_NUMBER"):
        return Refusal("client offers no TLS version or cipher we accept", detail)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return Refusal("handshake timed out", detail)
    if isinstance(exc, (ConnectionError, ssl.SSLEOFError)) or "EOF" in detail:
        return Refusal("client closed the connection during the handshake", detail)
    if reason.startswith(("SSLV3_ALERT", "TLSV1_ALERT", "TLSV13_ALERT")):
        return Refusal(f"client refused our certificate ({reason.split('ALERT_')[-1].lower()})", detail)
    return Refusal(f"handshake failed ({reason or type(exc).__name__})", detail)


class TlsFront:
    """Accept TLS connections on ``host:port`` and forward them to ``backend``.

    Args:
        context: returns the server ``SSLContext`` (``verify_mode = CERT_REQUIRED``) for
            each new connection, so a new CRL or certificate applies without a restart.
        backend: waitress's (host, port) on loopback.
        identities: where verified identities are registered for the app.
        events: the site's event log.
    """

    def __init__(
        self,
        *,
        context: Callable[[], ssl.SSLContext],
        backend: tuple[str, int],
        identities: IdentityTable,
        events: EventLog,
        host: str = "127.0.0.1",
        port: int = 0,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self._context = context
        self._backend = backend
        self._identities = identities
        self._events = events
        self._handshake_timeout = handshake_timeout
        self._idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._handshaking: collections.Counter[str] = collections.Counter()
        # Connections still in their handshake, oldest first: (ip, port) -> the socket now serving it.
        self._pending: dict[tuple[str, int], socket.socket] = {}
        self._evicted: set[tuple[str, int]] = set()
        self._open: collections.Counter[str] = collections.Counter()
        self._last_flood_log: dict[tuple[str, str], tuple[float, int]] = {}
        self._stopping = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind((host, port))
            # A deep queue: connections past the limits wait here while the oldest silent ones are dropped,
            # instead of their SYNs being retried for seconds (the kernel caps it at somaxconn).
            self._listener.listen(1024)
        except BaseException:
            self._listener.close()
            raise
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._accept_thread = threading.Thread(target=self._accept_loop, name="tls-front-accept", daemon=True)

    def start(self) -> None:
        self._accept_thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every open connection, and wait for the threads."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._accept_thread.join(timeout)
        with self._lock:
            conns = list(self._conns)
            threads = list(self._threads)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)

    @property
    def thread_count(self) -> int:
        with self._lock:
            return len(self._threads) + int(self._accept_thread.is_alive())

    # -- internals ---------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, addr = self._listener.accept()
            except OSError as exc:
                if self._stopping.is_set():
                    return
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors or memory: accept() would fail again at once, so a
                    # bare retry spins a core. Pause; connections wait in the listen queue.
                    self._log_flood("-", f"cannot accept connections: {exc.strerror}")
                    self._stopping.wait(0.1)
                continue
            refusal = self._admit(addr[0])
            if refusal is not None:
                # No TLS yet, so no alert to send: the client sees the connection closed.
                sock.close()
                self._log_flood(addr[0], refusal)
                continue
            # No Nagle: a response often leaves waitress as headers and body, relayed as two TLS records;
            # with Nagle the second waits for the client's (delayed) ACK of the first.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(
                target=self._serve, args=(sock, addr), name=f"tls-front-{addr[0]}:{addr[1]}", daemon=True
            )
            with self._lock:
                self._threads.add(thread)
                self._conns.add(sock)
                self._pending[(addr[0], addr[1])] = sock
            thread.start()

    def _admit(self, ip: str) -> str | None:
        """Count a new connection from ``ip``, or say why it is refused.

        Silent connections must not lock a class out (no certificate is needed to open one):
        when an address reaches its limit of unfinished handshakes, or the front its limit of
        connections, the *oldest unfinished handshake* is dropped to make room. A real
        handshake takes milliseconds, so what is dropped is a connection that sat silent;
        the student connecting now gets in.
        """
        with self._lock:
            victim = None
            if self._handshaking[ip] >= MAX_HANDSHAKES_PER_ADDRESS:
                victim = self._oldest_pending(ip)
            elif self._open[ip] >= MAX_CONNECTIONS_PER_ADDRESS:
                victim = self._oldest_pending(ip)
                if victim is None:  # all of them finished handshakes: that address really is this busy
                    return "too many connections from this address"
            if victim is not None:
                self._evict(victim)
            got = self._slots.acquire(blocking=False)
            if not got:
                victim = self._oldest_pending(None)
                if victim is None:
                    return "too many connections"
                self._evict(victim)
        if not got and not self._slots.acquire(timeout=2.0):  # the evicted thread frees its slot in milliseconds
            return "too many connections"
        with self._lock:
            self._handshaking[ip] += 1
            self._open[ip] += 1
        return None

    def _oldest_pending(self, ip: str | None) -> tuple[str, int] | None:
        """The longest-waiting unfinished handshake (of ``ip``, or of anyone), not already being dropped."""
        for key in self._pending:
            if key not in self._evicted and (ip is None or key[0] == ip):
                return key
        return None

    def _evict(self, key: tuple[str, int]) -> None:
        """Drop an unfinished handshake (its thread sees the socket closed and ends)."""
        self._evicted.add(key)
        sock = self._pending.get(key)
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _handshake_over(self, ip: str, key: tuple[str, int], *, still_droppable: bool = False) -> None:
        with self._lock:
            self._handshaking[ip] -= 1
            if self._handshaking[ip] <= 0:
                del self._handshaking[ip]
            if not still_droppable:
                self._pending.pop(key, None)
                self._evicted.discard(key)

    def _log_flood(self, ip: str, reason: str) -> None:
        """Log a refusal, but only once per address and reason every few seconds."""
        now = time.monotonic()
        key = (ip, reason)
        last, suppressed = self._last_flood_log.get(key, (0.0, 0))
        if now - last < _QUIET_SECONDS:
            self._last_flood_log[key] = (last, suppressed + 1)
            return
        if len(self._last_flood_log) > 4096:  # addresses of a scan: forget them rather than grow
            self._last_flood_log.clear()
        self._last_flood_log[key] = (now, 0)
        self._events.emit("connection-refused", reason, client=ip, refused_since_last_logged=suppressed)

    def _serve(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        client = f"{addr[0]}:{addr[1]}"
        key = (addr[0], addr[1])
        tls: ssl.SSLSocket | None = None
        handshaking = True
        try:
            context = self._context()
            sock.settimeout(self._handshake_timeout)
            try:
                tls = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                with self._lock:
                    self._conns.discard(sock)
                    self._conns.add(tls)
                    if key in self._pending:
                        self._pending[key] = tls  # same place in the order: it is as old as it was
                    evicted = key in self._evicted
                if evicted:  # dropped while being wrapped: the shutdown went to the old object
                    raise ConnectionAbortedError("dropped to make room")
                # CPython applies the socket timeout to the whole do_handshake() as one
                # deadline (not per read), so a client dripping its ClientHello is cut off too.
                tls.do_handshake()
                handshaking = False
                # Friendly mode: a handshake without a certificate proves nothing, so that connection
                # stays among the ones dropped first under a flood (it is only there for the how-to page).
                self._handshake_over(addr[0], key, still_droppable=tls.getpeercert(binary_form=True) is None)
            except (ssl.SSLError, OSError) as exc:
                with self._lock:
                    evicted = key in self._evicted
                if evicted:
                    self._log_flood(addr[0], "an unfinished handshake was dropped to make room for new connections")
                elif not self._stopping.is_set():
                    refusal = explain_handshake_error(exc)
                    self._events.emit(
                        "connection-refused", refusal.reason, client=addr[0], detail=refusal.detail
                    )
                    if tls is not None and not isinstance(exc, TimeoutError):  # a timeout has no alert to read
                        _linger_close(tls)
                return
            der = tls.getpeercert(binary_form=True)
            cipher = tls.cipher()
            if der is None:
                # Only possible in friendly mode (CERT_OPTIONAL): the app answers with a
                # page explaining how to import the bundle. A certificate that *is*
                # presented was still verified, and refused above when bad.
                self._events.emit("connection-without-certificate", "no client certificate (friendly mode: "
                                  "the site shows how to import the bundle)", client=addr[0])
                self._pipe(tls, NoCertificate(tls.version() or "", cipher[0] if cipher else "", addr[0]),
                           idle=min(self._idle_timeout, NO_CERTIFICATE_IDLE_TIMEOUT))
                return
            identity = ClientIdentity.from_der(
                der,
                protocol=tls.version() or "",
                cipher=cipher[0] if cipher else "",
                client_address=addr[0],
            )
            self._events.emit(
                "connection-accepted",
                f"client certificate accepted: {identity.subject}",
                client=addr[0],
                subject=identity.subject,
                protocol=identity.protocol,
            )
            self._pipe(tls, identity)
        except Exception as exc:  # one connection's failure must never stop the front
            if not self._stopping.is_set():
                self._events.emit("connection-error", f"connection ended: {exc}", client=client)
        finally:
            for s in (tls, sock):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()
            with self._lock:
                self._conns.discard(sock)
                if tls is not None:
                    self._conns.discard(tls)
                self._pending.pop(key, None)
                self._evicted.discard(key)
                self._threads.discard(threading.current_thread())
                self._open[addr[0]] -= 1
                if self._open[addr[0]] <= 0:
                    del self._open[addr[0]]
            if handshaking:
                self._handshake_over(addr[0], key)
            self._slots.release()

    def _pipe(self, tls: ssl.SSLSocket, identity: Peer, idle: float | None = None) -> None:
        idle = self._idle_timeout if idle is None else idle
        # waitress is only bothered once the client sends something: browsers open
        # connections speculatively (preconnect) that often carry no request at all.
        tls.settimeout(idle)
        try:
            first = tls.recv(_CHUNK)
        except (ssl.SSLError, OSError):
            return
        if not first or self._stopping.is_set():
            return
        backend = socket.create_connection(self._backend, timeout=idle)
        backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        port = backend.getsockname()[1]
        # Register before forwarding a byte; unregister before closing, while the
        # port is still ours (see identity.py).
        self._identities.register(port, identity)
        with self._lock:
            self._conns.add(backend)
        try:
            backend.sendall(first)
            _relay(tls, backend, idle, self._stopping.is_set)
        finally:
            self._identities.unregister(port)
            with self._lock:
                self._conns.discard(backend)
            with contextlib.suppress(OSError):
                backend.close()


def _linger_close(sock: socket.socket) -> None:
    """Close after a refusal so that the client reads the alert.

    Under TLS 1.3 the client has often sent its request before our alert
    arrives. Closing with that request unread makes the kernel send a reset,
    and the client's kernel then drops the alert it had not read yet: the
    student would see "connection reset" instead of "certificate expired".
    Half-closing and reading what is in flight for a moment avoids the reset.
    """
    try:
        socket.socket.shutdown(sock, socket.SHUT_WR)
        sock.settimeout(0.5)
        for _ in range(16):
            if not socket.socket.recv(sock, _CHUNK):
                break
    except OSError:
        pass


def _relay(tls: ssl.SSLSocket, backend: socket.socket, idle: float, stopping: Callable[[], bool]) -> None:
    """Copy bytes both ways until either side closes or nothing moves for ``idle`` seconds.

    poll, not select: with hundreds of connections (three descriptors each in this
    process: the client's, ours to waitress, waitress's end) descriptors pass 1024,
    which select() cannot watch.
    """
    tls_fd, backend_fd = tls.fileno(), backend.fileno()
    poller = select.poll()
    poller.register(tls_fd, select.POLLIN)
    poller.register(backend_fd, select.POLLIN)
    idle_ms = max(1, int(idle * 1000))
    while not stopping():
        if tls.pending():
            ready = {tls_fd}
        else:
            events = poller.poll(idle_ms)
            if not events:
                return  # idle timeout
            ready = {fd for fd, _ in events}
        if tls_fd in ready:
            try:
                data = tls.recv(_CHUNK)
            except ssl.SSLWantReadError:
                data = None  # only a handshake record (e.g. a session ticket ack) arrived
            except (ssl.SSLError, OSError):
                return
            if data is not None:
                if not data:
                    return
                backend.sendall(data)
        if backend_fd in ready:
            try:
                data = backend.recv(_CHUNK)
            except OSError:
                return
            if not data:
                return
            tls.sendall(data)
