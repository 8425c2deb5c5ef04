"""The demo site's WSGI app: certificate facts, a login form, and the protected /user page.

The app never trusts anything the client says about its certificate: the
identity comes from the :class:`IdentityTable`, keyed by waitress's
``REMOTE_PORT`` (see identity.py). A request without an entry is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

import bottle

from core.site_users import UserStore
from embedded_server.events import EventLog
from embedded_server.identity import ClientIdentity, IdentityTable, NoCertificate
from embedded_server.sessions import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_USER, SessionStore, Throttle

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SESSION_COOKIE = "mtlslab_session"
ENVIRON_KEY = "mtlslab.client"

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=300",
}


def create_app(
    *,
    identities: IdentityTable,
    users: UserStore,
    events: EventLog,
    sessions: SessionStore | None = None,
    site_name: str = "mTLS Lab demo site",
    require_user_match: bool = False,
) -> bottle.Bottle:
    """Build the site's WSGI application.

    Args:
        identities: verified client identities registered by the TLS front.
        users: the login users (knowledge factor).
        events: where page views and logins are logged.
        sessions: session store (a new one by default).
        site_name: the title shown on every page.
        require_user_match: accept a login only for the username that equals the
            certificate's CN or one of its e-mail addresses.
    """
    app = bottle.Bottle()
    sessions = sessions or SessionStore()
    throttle = Throttle()  # per certificate
    user_throttle = Throttle(max_failures=MAX_FAILURES_PER_USER)
    address_throttle = Throttle(max_failures=MAX_FAILURES_PER_ADDRESS)
    csrf_key = secrets.token_bytes(32)
    templates = {
        name: bottle.SimpleTemplate(name=name, lookup=[str(RESOURCES / "templates")])
        for name in ("index", "user", "refused", "no_certificate", "error")
    }

    def render(name: str, **values: Any) -> str:
        return str(templates[name].render(site_name=site_name, **values))

    def csrf_token(identity: ClientIdentity) -> str:
        return hmac.new(csrf_key, identity.fingerprint_sha256.encode(), hashlib.sha256).hexdigest()

    def current_identity() -> ClientIdentity:
        identity = bottle.request.environ.get(ENVIRON_KEY)
        assert isinstance(identity, ClientIdentity)
        return identity

    @app.hook("before_request")
    def require_verified_client() -> None:
        environ = bottle.request.environ
        identity = None
        if environ.get("REMOTE_ADDR") in ("127.0.0.1", "::1"):
            try:
                identity = identities.lookup(int(environ.get("REMOTE_PORT", "")))
            except ValueError:
                identity = None
        if isinstance(identity, NoCertificate):
            events.emit("request-refused", "no client certificate: sent the how-to page", path=bottle.request.path)
            raise bottle.HTTPResponse(
                render("no_certificate"), status=403,
                headers={**_SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
            )
        environ[ENVIRON_KEY] = identity
        if identity is None:
            events.emit("request-refused", "request did not come through the TLS front", path=bottle.request.path)
            raise bottle.HTTPResponse(
                render("refused"), status=403, headers={**_SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
            )
        # mod_ssl's names (plus the fingerprint, which mod_ssl lacks). A header a client
        # sends arrives as HTTP_*, and waitress drops header names with "_", so none of
        # these keys can come from the client; they are set here from the front's table.
        environ["SSL_CLIENT_VERIFY"] = "SUCCESS"
        environ["SSL_CLIENT_S_DN"] = identity.subject
        environ["SSL_CLIENT_I_DN"] = identity.issuer
        environ["SSL_CLIENT_M_SERIAL"] = identity.serial
        environ["SSL_CLIENT_V_END"] = identity.not_after.isoformat()
        environ["SSL_CLIENT_FINGERPRINT_SHA256"] = identity.fingerprint_sha256
        environ["SSL_CLIENT_CERT"] = identity.certificate_pem
        environ["SSL_PROTOCOL"] = identity.protocol
        environ["SSL_CIPHER"] = identity.cipher
        environ["HTTPS"] = "on"
        environ["wsgi.url_scheme"] = "https"

    @app.hook("after_request")
    def security_headers() -> None:
        _apply_headers(bottle.response)

    def session_for(identity: ClientIdentity) -> Any:
        cookie = bottle.request.get_cookie(SESSION_COOKIE)
        session = sessions.get(cookie, identity.fingerprint_sha256)
        if session is not None:
            try:
                known = users.usernames()
            except ValueError:  # a damaged login file: nobody counts as logged in
                known = []
            if session.username not in known:  # the instructor removed the login: its sessions end now
                sessions.end(cookie)
                return None
        return session

    @app.get("/")
    def index() -> str:
        identity = current_identity()
        session = session_for(identity)
        events.emit("page", "/", subject=identity.subject, user=session.username if session else None)
        error = bottle.request.query.get("error", "")
        messages = {
            "login": "Wrong username or password.",
            "csrf": "The form expired. Please try again.",
            "throttled": "Too many failed attempts. Wait a minute and try again.",
            "session": "Please log in to see that page.",
            "mismatch": "This certificate may only log in as its owner: use the name or e-mail address it was "
                        "issued to.",
        }
        return render(
            "index",
            identity=identity,
            session=session,
            csrf=csrf_token(identity),
            error=messages.get(error, ""),
        )

    @app.post("/login")
    def login() -> None:
        identity = current_identity()
        form = bottle.request.forms
        if not _same(form.get("csrf", ""), csrf_token(identity)):
            events.emit("login-failed", "missing or wrong CSRF token", subject=identity.subject)
            bottle.redirect("/?error=csrf", 303)
        username = form.getunicode("username", default="") or ""
        password = form.getunicode("password", default="") or ""
        # Per certificate (one student guessing) and per username (many guessing one account);
        # per address only with a higher limit: a classroom behind one NAT, or everyone on
        # loopback, shares one.
        cert_limit = (throttle, f"cert:{identity.fingerprint_sha256}")
        user_limit = (user_throttle, f"user:{username[:64].lower()}")
        address_limit = (address_throttle, f"addr:{identity.client_address}")
        # A failed login logs the username only when it is a real account: people type
        # their password into the username field, and the log is read by the instructor.
        try:
            known = users.usernames()
        except ValueError as exc:  # the login file is damaged: say so, instead of a traceback and a 500
            events.emit("login-unavailable", str(exc), subject=identity.subject)
            raise bottle.HTTPError(503, "logins unavailable") from None
        logged = username if username in known else None

        def refuse_throttled() -> None:
            events.emit("login-throttled", "too many failed logins", subject=identity.subject, user=logged,
                        known_user=logged is not None)
            bottle.redirect("/?error=throttled", 303)

        if require_user_match and not _belongs_to(username, identity):
            # Refused before the password is checked: nothing is learned about it, so the attempt counts
            # against this certificate and address only. Counted against the username, anyone with any
            # certificate could lock its owner out.
            if not Throttle.acquire_all(cert_limit, address_limit):
                refuse_throttled()
            events.emit("login-failed", "username does not match the certificate", subject=identity.subject,
                        user=logged, known_user=logged is not None)
            bottle.redirect("/?error=mismatch", 303)
        if not Throttle.acquire_all(cert_limit, user_limit, address_limit):
            refuse_throttled()
        if not users.verify(username, password):
            events.emit("login-failed", "wrong username or password", subject=identity.subject, user=logged,
                        known_user=logged is not None)
            bottle.redirect("/?error=login", 303)
        for limiter, key in (cert_limit, user_limit, address_limit):
            limiter.succeeded(key)  # a correct password gives back its own attempt
        token = sessions.create(username, identity.fingerprint_sha256)
        bottle.response.set_cookie(
            SESSION_COOKIE, token, path="/", httponly=True, secure=True, samesite="strict"
        )
        events.emit("login-ok", f"{username} logged in", subject=identity.subject, user=username)
        bottle.redirect("/user", 303)

    @app.get("/user")
    def user() -> str:
        identity = current_identity()
        session = session_for(identity)
        if session is None:
            bottle.redirect("/?error=session", 303)
        bottle.response.set_header("Cache-Control", "no-store")
        events.emit("page", "/user", subject=identity.subject, user=session.username)
        return render("user", identity=identity, session=session, csrf=csrf_token(identity))

    @app.post("/logout")
    def logout() -> None:
        identity = current_identity()
        if _same(bottle.request.forms.get("csrf", ""), csrf_token(identity)):
            sessions.end(bottle.request.get_cookie(SESSION_COOKIE))
            bottle.response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
            events.emit("logout", "logged out", subject=identity.subject)
        bottle.redirect("/", 303)

    @app.get("/certificate.pem")
    def certificate() -> str:
        """The certificate this connection presented, as the app received it."""
        bottle.response.content_type = "application/x-pem-file"
        return str(bottle.request.environ["SSL_CLIENT_CERT"])

    @app.get("/static/<name>")
    def static(name: str) -> Any:
        return bottle.static_file(name, root=str(RESOURCES / "static"))

    explanations = {
        404: "There is no such page on this site.",
        405: "That page does not accept this kind of request.",
        500: "Something went wrong on the site. The instructor can see the details in the event log.",
        503: "The site cannot check logins right now: its list of logins is damaged. Tell your instructor "
             "(they can set the logins again in mTLS Lab's Demo Site page, or with: python main.py user NAME).",
    }

    def error_page(error: bottle.HTTPError) -> str:
        """bottle's own error pages carry inline CSS; ours follow the CSP like every other page."""
        _apply_headers(bottle.response)
        bottle.response.set_header("Cache-Control", "no-store")
        code = error.status_code
        if code >= 500 and code != 503:
            events.emit("error", f"{code} on {bottle.request.path}: {error.exception!r}", path=bottle.request.path)
        return render("error", title=f"Error {code}", status=error.status_line,
                      explanation=explanations.get(code, "The site could not answer this request."))

    app.default_error_handler = error_page
    return app


def _belongs_to(username: str, identity: ClientIdentity) -> bool:
    """True when ``username`` is the certificate's CN or one of its e-mail addresses (case-insensitive)."""
    wanted = username.strip().casefold()
    names = [identity.common_name, *identity.emails]
    return bool(wanted) and any(hmac.compare_digest(wanted.encode(), n.casefold().encode()) for n in names)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also accepts any bytes a client sends."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _apply_headers(response: bottle.BaseResponse) -> None:
    for name, value in _SECURITY_HEADERS.items():
        response.set_header(name, value)
