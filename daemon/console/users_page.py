"""The people who sign in, managed by a lead (SPEC §8: a lead "manages users"), and anyone's
own password.

``/users`` lists every user (name, role, linked roster id, enabled or not, last sign-in) with
a form to add one; ``/users/{id}`` shows one with its trail and the forms to reset the
password, disable or enable them and change their role. Only a lead gets these pages; any
other signed-in person gets 403, whatever they ask. Every change needs a reason and lands in
the user's trail with the lead's name, like a decision on a violation.

A new user, and a reset, get a **generated** password, shown once on the answer to the
form and never stored in the clear: a supervisor adding an agent on the shop floor does not
have to invent a strong password on a phone and read it out, and a password the lead knows
opens nothing but ``/password``: its owner chooses their own there before anything else (the
same page where anybody changes theirs).

A lead cannot disable themself, change their own role or reset their own password here (the
last would end the session they are using: ``/password`` is for that), and the last active
lead is neither disabled nor given another role (the store refuses it, for the CLI too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

import structlog
from aiohttp import web
from aiohttp_session import get_session

from daemon.clock import Clock
from daemon.config.settings import Settings
from daemon.console.i18n import N_, Words
from daemon.console.sessions import Sessions, local_path
from daemon.errors import BadInput, Conflict, NotFound, Refused
from daemon.store.tables import row_id
from daemon.store.users import ROLES, LastLead, User, UserBook, generated_password

log = structlog.get_logger("shopwatch.console")

ACTIONS = ("password", "disable", "enable", "role")
TEMPORARY_EXEMPT = ("/password", "/logout", "/login", "/static/", "/lang/")
"""Paths a person whose password is temporary may still open (choosing their own, leaving)."""


class Pages(Protocol):
    """What these pages use of the console (:class:`daemon.console.pages.Console`)."""

    users: UserBook
    sessions: Sessions
    clock: Clock
    settings: Callable[[], Settings]

    def words(self, request: web.Request) -> Words: ...
    def _user(self, request: web.Request) -> User: ...
    def _page(
        self, name: str, request: web.Request, context: dict[str, Any], status: int = 200
    ) -> web.Response: ...
    def _refusal_page(self, request: web.Request, status: int, message: str) -> Exception: ...
    async def _form(self, request: web.Request) -> dict[str, str]: ...
    def _writable(self, request: web.Request) -> None: ...
    async def _flash(self, request: web.Request, text: str) -> None: ...
    def refusal_text(self, words: Words, exc: Refused) -> str: ...


def must_choose_password(user: User, path: str) -> bool:
    """A person signed in with a generated password goes to ``/password`` first."""
    return user.password_temporary and not path.startswith(TEMPORARY_EXEMPT)


def refusal(console: Pages, words: Words, exc: Refused) -> str:
    """A refusal of these pages in the reader's language, then its exact reason."""
    if isinstance(exc, LastLead):
        head = words.gettext("There must always be an active lead: make someone else lead first.")
    elif isinstance(exc, Conflict) and exc.field != "reason":
        head = words.gettext("Refused.")
    else:
        return console.refusal_text(words, exc)
    return f"{head} ({exc})"


def _reason(form: dict[str, str]) -> str:
    """The lead's reason, required here; its length and characters are the store's to check."""
    reason = form.get("reason", "").strip()
    if not reason:
        raise BadInput("required", field="reason")
    return reason


class UserPages:
    def __init__(self, console: Pages) -> None:
        self.console = console

    def setup(self, router: web.UrlDispatcher) -> None:
        router.add_get("/users", self.list_page)
        router.add_post("/users", self.add)
        router.add_get("/users/{id}", self.user_page)
        router.add_post("/users/{id}/{action}", self.act)
        router.add_get("/password", self.password_form)
        router.add_post("/password", self.choose_password)

    # ---- helpers ----

    def _lead(self, request: web.Request) -> User:
        user = self.console._user(request)
        if not user.is_lead:
            raise self.console._refusal_page(request, 403, N_("Only a lead may manage users."))
        return user

    async def _target(self, request: web.Request) -> User:
        found = row_id(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound()
        try:
            return await self.console.users.by_id(found)
        except NotFound:
            raise web.HTTPNotFound() from None

    def _roster(self) -> list[str]:
        return list(self.console.settings().roster)

    # ---- the list, and adding a user ----

    async def list_page(
        self,
        request: web.Request,
        *,
        error: str | None = None,
        status: int = 200,
        form: dict[str, str] | None = None,
        issued: tuple[User, str] | None = None,
    ) -> web.StreamResponse:
        self._lead(request)
        return self.console._page(
            "users.html",
            request,
            {
                "people": await self.console.users.all(),
                "roles": ROLES,
                "agents": self.console.settings().agents,
                "error": error,
                "form": form or {},
                "issued": issued,
            },
            status=status,
        )

    async def add(self, request: web.Request) -> web.StreamResponse:
        lead = self._lead(request)
        form = await self.console._form(request)
        password = generated_password()
        try:
            self.console._writable(request)
            reason = _reason(form)
            role = form.get("role", "")
            added = await self.console.users.add(
                name=form.get("name", ""),
                role=role,
                agent=form.get("agent") if role == "agent" else None,
                password=password,
                by=lead.name,
                now=self.console.clock.now(),
                roster=self._roster(),
                temporary=True,
                reason=reason,
            )
        except Refused as exc:
            words = self.console.words(request)
            return await self.list_page(
                request, error=refusal(self.console, words, exc), status=exc.status, form=form
            )
        log.info("console user added", user=added.name, role=added.role, by=lead.name)
        # Shown on this answer only: never kept, never sent again (a reload asks to post the
        # form again, and that name is taken).
        return await self.list_page(request, issued=(added, password))

    # ---- one user ----

    async def user_page(
        self,
        request: web.Request,
        *,
        target: User | None = None,
        error: str | None = None,
        failed: str | None = None,
        status: int = 200,
        form: dict[str, str] | None = None,
        issued: str | None = None,
    ) -> web.StreamResponse:
        lead = self._lead(request)
        shown = target or await self._target(request)
        return self.console._page(
            "user.html",
            request,
            {
                "person": shown,
                "myself": shown.id == lead.id,
                "trail": await self.console.users.audit(shown.name),
                "roles": ROLES,
                "agents": self.console.settings().agents,
                "error": error,
                "failed": failed,
                "form": form or {},
                "issued": issued,
            },
            status=status,
        )

    async def act(self, request: web.Request) -> web.StreamResponse:
        lead = self._lead(request)
        action = request.match_info["action"]
        if action not in ACTIONS:
            raise web.HTTPNotFound()
        target = await self._target(request)
        form = await self.console._form(request)
        words = self.console.words(request)
        now = self.console.clock.now()
        book = self.console.users
        password = None
        if target.id == lead.id:
            return await self.user_page(
                request,
                target=target,
                error=words.gettext(
                    "You do not change your own account here: ask another lead. Your own "
                    "password: “Change my password”."
                ),
                status=409,
            )
        try:
            self.console._writable(request)
            reason = _reason(form)
            if action == "password":
                password = generated_password()
                await book.set_password(
                    target.name, password, by=lead.name, now=now, temporary=True, reason=reason
                )
                done = None
            elif action in ("disable", "enable"):
                active = action == "enable"
                await book.set_active(target.name, active, by=lead.name, now=now, reason=reason)
                done = (
                    N_("Enabled: they can sign in again.")
                    if active
                    else N_("Disabled: their sessions have ended and they cannot sign in.")
                )
            else:
                role = form.get("role", "")
                await book.set_role(
                    target.name,
                    role,
                    agent=form.get("agent") if role == "agent" else None,
                    by=lead.name,
                    now=now,
                    roster=self._roster(),
                    reason=reason,
                )
                done = N_("Role changed: it applies from their next page.")
        except Refused as exc:
            log.info(
                "console user action refused",
                action=action,
                user=target.name,
                by=lead.name,
                error=str(exc),
            )
            return await self.user_page(
                request,
                target=await book.by_id(target.id),
                error=refusal(self.console, words, exc),
                failed=action,
                status=exc.status,
                form=form,
            )
        log.info("console user action", action=action, user=target.name, by=lead.name)
        if password is not None:
            return await self.user_page(
                request, target=await book.by_id(target.id), issued=password
            )
        assert done is not None
        await self.console._flash(request, words.gettext(done))
        raise web.HTTPSeeOther(location=f"/users/{target.id}")

    # ---- anyone's own password ----

    async def password_form(
        self,
        request: web.Request,
        *,
        error: str | None = None,
        status: int = 200,
        next_page: str | None = None,
    ) -> web.StreamResponse:
        user = self.console._user(request)
        return self.console._page(
            "password.html",
            request,
            {
                "temporary": user.password_temporary,
                "next": local_path(next_page or request.query.get("next")),
                "error": error,
            },
            status=status,
        )

    async def choose_password(self, request: web.Request) -> web.StreamResponse:
        user = self.console._user(request)
        form = await self.console._form(request)
        words = self.console.words(request)
        # Guessing the current password from a session left open is held off as sign-ins are.
        throttle, keys = self.console.sessions.throttle, [f"password:{user.id}"]
        wait = throttle.wait(keys)
        if wait is not None:
            minutes = max(1, int(wait.total_seconds() + 59) // 60)
            message = "Too many failed sign-ins. Try again in {minutes} minute(s)."
            response = await self.password_form(
                request,
                error=words.gettext(message, minutes=minutes),
                status=429,
                next_page=form.get("next"),
            )
            response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
            return response
        try:
            self.console._writable(request)
            if form.get("password", "") != form.get("again", ""):
                raise BadInput("the two new passwords differ", field="again")
            fresh = await self.console.users.choose_password(
                user.id,
                form.get("current", ""),
                form.get("password", ""),
                now=self.console.clock.now(),
            )
        except Refused as exc:
            if isinstance(exc, BadInput) and exc.field == "current":
                throttle.failed(keys)
            return await self.password_form(
                request,
                error=refusal(self.console, words, exc),
                status=exc.status,
                next_page=form.get("next"),
            )
        throttle.succeeded(keys)
        log.info("console password chosen", user=user.name)
        # Their other sessions ended with the old password; this one goes on, renewed.
        await self.console.sessions.sign_in(request, fresh)
        session = await get_session(request)
        session["flash"] = words.gettext("Your new password is set.")
        raise web.HTTPSeeOther(location=local_path(form.get("next")))


def password_redirect(request: web.Request) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location="/password?" + urlencode({"next": request.path_qs}))
