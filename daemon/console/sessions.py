"""Signing in: the session cookie, its expiry, CSRF tokens and holding off password guessing.

The session lives in a cookie encrypted and authenticated with Fernet (``aiohttp-session``'s
``EncryptedCookieStorage``), keyed from ``[console] session_key_file``. It holds the user's
id, the user's ``session_epoch`` (a new password or disabling ends every older session), when
they signed in (at most ``session_max_age`` ago), when they were last seen (at most
``session_idle`` ago) and the CSRF token every form and every cookie-authenticated API write
must carry back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from daemon.clock import Clock
from daemon.config.console_settings import ConsoleSettings
from daemon.config.secrets import secret_reader
from daemon.console.access import CSRF_CHECKED, CSRF_HEADER, CSRF_SESSION_KEY, SIGNED_IN
from daemon.errors import NotFound, Refused
from daemon.store.users import User, UserBook

log = structlog.get_logger("shopwatch.console")

COOKIE = "shopwatch_session"
SESSION = web.RequestKey("shopwatch.console.session", Session)
"""The request key of the loaded session (pages read the CSRF token and a flash from it)."""
KEY_MIN = 32
SEEN_EVERY = timedelta(minutes=1)
"""How stale ``seen`` may get before the cookie is written again (not at every request)."""
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_MAX_WAIT = timedelta(minutes=15)
THROTTLE_KEYS = 10_000


class Answer(Exception):
    """Raised by a page with the response to give now (a refusal shown as a page)."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("answer")
        self.response = response


Fallback = Callable[[web.Request, int, str | None], Awaitable[web.StreamResponse]]
"""Renders a page for a status: 404 (no such page), or a refusal's status and message."""


def session_key(settings: ConsoleSettings) -> bytes:
    """The cookie key: SHA-256 of the key file's first line, or a key of this process alone
    (logged: sessions then end at a restart)."""
    path = settings.session_key_file
    if path is None:
        log.warning(
            "console sessions use a key made at start: they end at a restart and do not "
            "carry to another process",
            hint="set [console] session_key_file",
        )
        return secrets.token_bytes(32)
    secret = secret_reader(path)().splitlines()[0].strip() if path.exists() else ""
    if len(secret) < KEY_MIN:
        raise OSError(
            f"[console] session_key_file {path}: missing, or shorter than {KEY_MIN} characters"
        )
    return hashlib.sha256(secret.encode("utf-8")).digest()


def cookie_storage(settings: ConsoleSettings, key: bytes) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(
        key,
        cookie_name=COOKIE,
        max_age=int(settings.session_max_age.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookie or None,
    )


def local_path(value: str | None, default: str = "/") -> str:
    """Where to go on after signing in or a form (``/ledger?…``): a path on this site, never
    ``//evil`` or a URL."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _stamp(moment: datetime) -> float:
    return moment.timestamp()


@dataclass
class LoginThrottle:
    """Failed sign-ins counted per key (the name tried, the address it came from): after
    ``attempts`` failures within 15 minutes each further try waits, 1 minute doubling up to
    15. In memory: each process counts its own (argon2's cost slows guessing as well)."""

    attempts: int
    clock: Clock
    failures: dict[str, list[datetime]] = field(default_factory=dict)

    def _recent(self, key: str, now: datetime) -> list[datetime]:
        kept = [t for t in self.failures.get(key, []) if now - t < THROTTLE_WINDOW]
        if kept:
            self.failures[key] = kept
        else:
            self.failures.pop(key, None)
        return kept

    def wait(self, keys: Iterable[str]) -> timedelta | None:
        """How long these keys must still wait, or None."""
        now = self.clock.now()
        longest = timedelta(0)
        for key in keys:
            recent = self._recent(key, now)
            over = len(recent) - self.attempts
            if over >= 0:
                hold = min(timedelta(minutes=2**over), THROTTLE_MAX_WAIT)
                longest = max(longest, recent[-1] + hold - now)
        return longest if longest > timedelta(0) else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock.now()
        if len(self.failures) > THROTTLE_KEYS:  # a flood of names: forget the stale ones
            for key in list(self.failures):
                self._recent(key, now)
        for key in keys:
            self.failures.setdefault(key, []).append(now)

    def succeeded(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.failures.pop(key, None)


def csrf_token(session: Session) -> str:
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def csrf_matches(session: Session, given: object) -> bool:
    token = session.get(CSRF_SESSION_KEY)
    return (
        isinstance(token, str)
        and isinstance(given, str)
        and hmac.compare_digest(token.encode(), given.encode("utf-8", "surrogateescape"))
    )


class Sessions:
    def __init__(self, *, users: UserBook, settings: ConsoleSettings, clock: Clock) -> None:
        self.users = users
        self.settings = settings
        self.clock = clock
        self.throttle = LoginThrottle(settings.login_attempts, clock)

    async def sign_in(self, request: web.Request, user: User) -> Session:
        """A fresh session (a new cookie: never one an attacker could have planted)."""
        session = await new_session(request)
        now = _stamp(self.clock.now())
        session.update({"uid": user.id, "epoch": user.session_epoch, "at": now, "seen": now})
        csrf_token(session)
        return session

    async def sign_out(self, request: web.Request) -> None:
        session = await get_session(request)
        session.invalidate()

    async def who(self, session: Session) -> User | None:
        """The session's user if it is still valid: not expired, not idle too long, the
        user active and their sessions not ended since."""
        uid = session.get("uid")
        if not isinstance(uid, int):
            return None
        now = _stamp(self.clock.now())
        at, seen = session.get("at"), session.get("seen")
        if not isinstance(at, int | float) or not isinstance(seen, int | float):
            return None
        if now - at > self.settings.session_max_age.total_seconds():
            return None
        if now - seen > self.settings.session_idle.total_seconds():
            return None
        try:
            user = await self.users.by_id(uid)
        except NotFound:
            return None
        if not user.active or user.session_epoch != session.get("epoch"):
            return None
        if now - seen > SEEN_EVERY.total_seconds():
            session["seen"] = now
        return user

    def middleware(self, fallback: Fallback) -> Callable[..., Awaitable[web.StreamResponse]]:
        """Puts the signed-in user on the request (only when it carries the cookie: API
        calls with a bearer token never touch the session), marks a request whose
        ``X-CSRF-Token`` header matches, and answers outside ``/api`` a page that does not
        exist, or a refusal nobody caught, with a page (the API keeps its JSON)."""

        @web.middleware
        async def console_session(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if COOKIE in request.cookies:
                session = request[SESSION] = await get_session(request)
                user = await self.who(session)
                if user is not None:
                    request[SIGNED_IN] = user
                    header = request.headers.get(CSRF_HEADER)
                    if header is not None and csrf_matches(session, header):
                        request[CSRF_CHECKED] = True
                elif "uid" in session:
                    session.invalidate()
            machine = request.path.startswith("/api/") or request.path == "/metrics"
            try:
                return await handler(request)
            except Answer as answer:
                return answer.response
            except web.HTTPNotFound:
                if machine:
                    raise
                return await fallback(request, 404, None)
            except Refused as exc:
                if machine:
                    raise
                return await fallback(request, exc.status, str(exc))

        return console_session
