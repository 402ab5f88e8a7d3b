"""The console's pages (SPEC §8): the ledger, a violation with its evidence timeline, the month
(scorecard, exports, bonuses, adjustments, close and reopen), the handover book and leaves,
and an agent's own page; the users, a lead's, are :mod:`daemon.console.users_page`.
Server-rendered; every form works without script.

Every page asks :mod:`daemon.console.access` who may see and do what, and every action goes
through the same ledger, scoring and store calls as the JSON API and the CLI, with the
signed-in person's name as ``by``. A refusal (bad input, not found, a closed month) is shown
on the page it came from, with the status the API would answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web
from aiohttp_session import get_session, session_middleware
from sqlalchemy import exists, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import BY_CODE
from daemon.clock import Clock
from daemon.config.settings import Settings
from daemon.console import access, export, listing
from daemon.console.cards import Scorecards
from daemon.console.i18n import COOKIE as LANG_COOKIE
from daemon.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, Words
from daemon.console.sessions import (
    SESSION,
    Answer,
    Sessions,
    cookie_storage,
    csrf_matches,
    csrf_token,
    local_path,
    session_key,
)
from daemon.console.timeline import build_timeline
from daemon.console.users_page import UserPages, must_choose_password, password_redirect
from daemon.errors import BadInput, Conflict, NotFound, Refused
from daemon.scoring import entries as score_entries
from daemon.scoring.closing import close_month, reopen_month
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.policy_file import PolicyFiles
from daemon.scoring.records import ConversionDays, parse_month
from daemon.store.ledger import Ledger, summarize_evidence, violation_json
from daemon.store.months import MonthBook
from daemon.store.people import PeopleBook, parse_day
from daemon.store.tables import (
    bonuses,
    row_id,
    score_adjustments,
    violation_events,
    violations,
)
from daemon.store.users import User, UserBook

log = structlog.get_logger("shopwatch.console")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATIC = ("console.css", "console.js")
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
TEXT_MAX = 4000
ACTIONS = ("confirm", "waive", "appeal")
ROLE_NAMES = (N_("Agent"), N_("Supervisor"), N_("Lead"))
"""The roles as the header shows them (``_(user.role.capitalize())``)."""


def _month_text(value: str | None) -> Month | None:
    return parse_month(value) if value else None


class Console:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        ledger: Ledger,
        clock: Clock,
        settings: Callable[[], Settings],
        storage_failure: Callable[[], str | None] = lambda: None,
        users: UserBook | None = None,
        conversion_days: ConversionDays | None = None,
    ) -> None:
        self.engine = engine
        self.ledger = ledger
        self.clock = clock
        self.settings = settings
        self.storage_failure = storage_failure
        self.users = users or UserBook(engine)
        self.months = MonthBook(engine)
        self.people = PeopleBook(engine)
        self.policies = PolicyFiles()
        self.cards = Scorecards(engine, conversion_days)
        self.sessions = Sessions(users=self.users, settings=settings().console, clock=clock)
        self.user_pages = UserPages(self)
        self.static = {
            name: (resources.files("daemon.console") / "static" / name).read_bytes()
            for name in STATIC
        }

    # ---- wiring ----

    def setup(self, app: web.Application) -> None:
        """Add the pages, the session and the templates to the daemon's app (before it
        starts). The session middleware runs inside the app's error handling."""
        templates = aiohttp_jinja2.setup(
            app,
            loader=jinja2.PackageLoader("daemon.console", "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
        )
        # Compiled now rather than at each page's first view, which paid for it (the month's
        # template: 50 to 100 ms, a quarter of the page target).
        for name in templates.list_templates(extensions=["html"]):
            templates.get_template(name)
        app.middlewares.append(
            session_middleware(
                cookie_storage(self.settings().console, session_key(self.settings().console))
            )
        )
        app.middlewares.append(self.sessions.middleware(self._fallback))
        r = app.router
        r.add_get("/", self.home)
        r.add_get("/login", self.login_form)
        r.add_post("/login", self.login)
        r.add_post("/logout", self.logout)
        r.add_get("/lang/{code}", self.language)
        r.add_get("/static/{name}", self.static_file)
        r.add_get("/ledger", self.ledger_page)
        r.add_get("/violations/{id}", self.violation_page)
        r.add_post("/violations/{id}/{action}", self.violation_action)
        r.add_get("/month", self.month_page)
        r.add_get("/month/{month}/scorecard.csv", self.month_csv)
        r.add_get("/month/{month}/scorecard.xlsx", self.month_xlsx)
        r.add_post("/month/{month}/{action}", self.month_action)
        r.add_get("/agents/{agent}", self.agent_page)
        r.add_get("/me", self.me)
        r.add_get("/handovers", self.handovers_page)
        r.add_post("/handovers", self.add_handover)
        r.add_get("/leaves", self.leaves_page)
        r.add_post("/leaves", self.add_leave)
        self.user_pages.setup(r)

    # ---- helpers ----

    def words(self, request: web.Request) -> Words:
        language = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
        if language not in LANGUAGES:
            language = DEFAULT_LANGUAGE
        return Words(language, self.settings().timezone)

    def _context(self, request: web.Request) -> dict[str, Any]:
        """What every page's template reads: the words, the user, the CSRF token, a flash."""
        words = self.words(request)
        user = access.signed_in(request)
        session = request.get(SESSION)
        flash = session.pop("flash", None) if session is not None and user is not None else None
        settings = self.settings()
        return {
            "_": words.gettext,
            "ngettext": words.ngettext,
            "words": words,
            "lang": words.language,
            "user": user,
            "csrf": csrf_token(session) if session is not None else "",
            "path": request.path_qs,
            "flash": flash,
            "agent_names": {a.id: a.name for a in settings.agents},
            "rule_name": self.rule_name,
            "quote": quote,
        }

    def rule_name(self, code: str, language: str = "zh") -> str:
        rule = BY_CODE.get(code)
        if rule is not None:
            return rule.name_zh if language == "zh" else rule.name_en
        try:
            entry = self.policy().deduction(code)
        except KeyError:
            return code
        return entry.zh if language == "zh" else entry.en

    def policy(self) -> Policy:
        return self.policies.policy_for(self.settings())

    def _user(self, request: web.Request) -> User:
        user = access.signed_in(request)
        if user is None:
            target = "/login?" + urlencode({"next": request.path_qs})
            raise web.HTTPSeeOther(location=target)
        if must_choose_password(user, request.path):
            raise password_redirect(request)
        return user

    def _decider(self, request: web.Request) -> User:
        user = self._user(request)
        if not user.decides:
            raise self._refusal_page(request, 403, N_("Only a supervisor or a lead may do this."))
        return user

    def _page(
        self, name: str, request: web.Request, context: dict[str, Any], status: int = 200
    ) -> web.Response:
        response = aiohttp_jinja2.render_template(
            name, request, {**self._context(request), **context}, status=status
        )
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def _refusal_page(self, request: web.Request, status: int, message: str) -> Answer:
        words = self.words(request)
        return Answer(
            self._page("refused.html", request, {"message": words.gettext(message)}, status)
        )

    async def _fallback(
        self, request: web.Request, status: int, detail: str | None
    ) -> web.StreamResponse:
        words = self.words(request)
        if status == 404 and detail is None:
            message = words.gettext("There is no such page.")
        else:
            refused = words.gettext("Refused.")
            message = f"{refused} ({detail})"
        return self._page("refused.html", request, {"message": message}, status)

    async def _form(self, request: web.Request) -> dict[str, str]:
        """The posted form, its CSRF token checked (403 otherwise)."""
        posted = await request.post()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        session = await get_session(request)
        if not csrf_matches(session, form.get("csrf")):
            raise self._refusal_page(
                request,
                403,
                N_(
                    "This form has expired or did not come from this console: reload the page "
                    "and try again."
                ),
            )
        return form

    def _writable(self, request: web.Request) -> None:
        failure = self.storage_failure()
        if failure is not None:
            raise self._refusal_page(
                request, 503, N_("Nothing can be recorded now: the database is not available.")
            )

    async def _flash(self, request: web.Request, text: str) -> None:
        session = await get_session(request)
        session["flash"] = text

    def refusal_text(self, words: Words, exc: Refused) -> str:
        """A refusal for people: what it means in their language, then its exact reason."""
        detail = str(exc)
        if isinstance(exc, Conflict) and exc.field == "month":
            head = words.gettext(
                "This month is closed: its violations, bonuses and adjustments can no longer "
                "change. Only a lead may reopen it."
            )
        elif exc.field == "reason":
            head = words.gettext("A reason is required.")
        elif isinstance(exc, Conflict):
            head = words.gettext("This can no longer be done.")
        elif isinstance(exc, NotFound):
            head = words.gettext("Not found.")
        else:
            head = words.gettext("Please correct the form.")
        return head if words.language == "en" and head == detail else f"{head} ({detail})"

    # ---- signing in ----

    async def home(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        if user.decides:
            raise web.HTTPSeeOther(location="/ledger")
        raise web.HTTPSeeOther(location=f"/agents/{quote(user.agent or '')}")

    async def me(self, request: web.Request) -> web.StreamResponse:
        return await self.home(request)

    async def login_form(self, request: web.Request, error: str | None = None) -> web.Response:
        session = request[SESSION] = await get_session(request)
        return self._page(
            "login.html",
            request,
            {
                "login_csrf": csrf_token(session),
                "next": local_path(request.query.get("next"), "/"),
                "error": error,
                "name": "",
            },
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        words = self.words(request)
        form = await self._form(request)
        name = form.get("name", "").strip()[:128]
        target = local_path(form.get("next"), "/")
        keys = [f"name:{name.casefold()}", f"peer:{request.remote or '?'}"]
        context: dict[str, Any] = {
            "login_csrf": form.get("csrf", ""),
            "next": target,
            "name": name,
        }
        wait = self.sessions.throttle.wait(keys)
        if wait is not None:
            minutes = max(1, int(wait.total_seconds() + 59) // 60)
            log.warning("console sign-in held off", name=name[:64], peer=request.remote)
            context["error"] = words.gettext(
                "Too many failed sign-ins. Try again in {minutes} minute(s).", minutes=minutes
            )
            response = self._page("login.html", request, context, status=429)
            response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
            return response
        user = await self.users.verify(name, form.get("password", ""))
        if user is None:
            self.sessions.throttle.failed(keys)
            log.info("console sign-in failed", name=name[:64], peer=request.remote)
            context["error"] = words.gettext("Wrong name or password.")
            return self._page("login.html", request, context, status=401)
        self.sessions.throttle.succeeded(keys)
        await self.sessions.sign_in(request, user)
        try:
            await self.users.signed_in(user.id, self.clock.now())
        except SQLAlchemyError as error:
            # The time of the last sign-in is for the users page; a database that reads but
            # cannot be written (a full disk, a read-only replica) still lets people in.
            log.warning("last sign-in not recorded", name=user.name, error=type(error).__name__)
        log.info("console sign-in", name=user.name, role=user.role)
        if user.password_temporary:  # a lead's one-time password: their own one first
            target = "/password?" + urlencode({"next": target})
        raise web.HTTPSeeOther(location=target)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        await self._form(request)
        await self.sessions.sign_out(request)
        raise web.HTTPSeeOther(location="/login")

    async def language(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]
        if code not in LANGUAGES:
            raise web.HTTPNotFound()
        response = web.HTTPSeeOther(location=local_path(request.query.get("next"), "/"))
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True, path="/"
        )
        raise response

    async def static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        body = self.static.get(name)
        if body is None:
            raise web.HTTPNotFound()
        suffix = name[name.rindex(".") :]
        return web.Response(
            body=body,
            content_type=STATIC_TYPES[suffix],
            charset="utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    # ---- the ledger ----

    def _filters(self, request: web.Request, user: User) -> tuple[listing.Filters, str]:
        q = request.query
        settings = self.settings()
        month_text = (q.get("month") or "").strip()
        month = _month_text(month_text)
        status = q.get("status") or None
        if status is not None and status not in (
            "open",
            "review",
            "appealed",
            "confirmed",
            "waived",
        ):
            raise BadInput("not a status", field="status")
        agent = (q.get("agent") or "").strip()[:128] or None
        if not user.decides:
            agent = user.agent  # an agent's listing is their own, whatever was asked
        filters = listing.Filters(
            shop=(q.get("shop") or "").strip()[:64] or None,
            rule=(q.get("rule") or "").strip()[:16] or None,
            agent=agent,
            status=status,
            since=month.start(settings.timezone) if month else None,
            until=month.end(settings.timezone) if month else None,
            sort=q.get("sort") or "deadline_desc",
        )
        return filters, month_text

    async def ledger_page(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        words = self.words(request)
        try:
            filters, month_text = self._filters(request, user)
            page = await listing.find_page(
                self.engine,
                filters,
                after=request.query.get("after") or None,
                before=request.query.get("before") or None,
            )
        except BadInput as exc:
            return self._page(
                "refused.html", request, {"message": self.refusal_text(words, exc)}, status=400
            )
        settings = self.settings()
        shown = {
            "shop": filters.shop or "",
            "rule": filters.rule or "",
            "agent": (filters.agent or "") if user.decides else "",
            "status": filters.status or "",
            "month": month_text,
            "sort": filters.sort,
        }

        def link(**change: str | None) -> str:
            merged = {**shown, **change}
            return "/ledger?" + urlencode({k: v for k, v in merged.items() if v})

        return self._page(
            "ledger.html",
            request,
            {
                "page": page,
                "filters": shown,
                "link": link,
                "shops": [s.id for s in settings.shops],
                "rules": self._rule_codes(),
                "agents": settings.agents,
                "sorts": listing.SORTS,
                "team": listing.TEAM,
            },
        )

    def _rule_codes(self) -> list[str]:
        return sorted({*BY_CODE, *self.policy().deductions})

    # ---- a violation ----

    async def _violation(self, request: web.Request, user: User) -> dict[str, Any]:
        found = row_id(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound()
        try:
            violation = await self.ledger.get(found)
        except NotFound:
            raise web.HTTPNotFound() from None
        if not access.may_see(user, violation):
            # The same answer as for a violation that does not exist: an agent learns
            # nothing of another agent's record, not even that it is there.
            raise web.HTTPNotFound()
        return violation

    async def _violation_context(self, violation: dict[str, Any], user: User) -> dict[str, Any]:
        settings = self.settings()
        now = self.clock.now()
        deadline = datetime.fromisoformat(violation["deadline"])
        month = Month.of(deadline, settings.timezone)
        closed = await self.months.get(str(month))
        month_closed = closed is not None and closed.closed
        return {
            "v": violation,
            "summary": summarize_evidence(violation, settings.timezone, now).split("\n"),
            "timeline": await build_timeline(self.engine, violation),
            "actions": access.actions(
                user,
                violation,
                month_closed=month_closed,
                now=now,
                appeal_window=settings.appeal_window,
            ),
            "month": str(month),
            "month_closed": month_closed,
            "rule": BY_CODE.get(violation["rule"]),
        }

    async def violation_page(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        violation = await self._violation(request, user)
        context = await self._violation_context(violation, user)
        return self._page("violation.html", request, context)

    async def violation_action(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        action = request.match_info["action"]
        if action not in ACTIONS:
            raise web.HTTPNotFound()
        violation = await self._violation(request, user)
        form = await self._form(request)
        words = self.words(request)
        reason = form.get("reason", "").strip()
        now = self.clock.now()
        try:
            self._writable(request)
            if len(reason) > TEXT_MAX:
                raise BadInput(f"at most {TEXT_MAX} characters", field="reason")
            if not reason:
                raise BadInput("required", field="reason")
            if action == "appeal":
                if user.role != "agent" or user.agent is None:
                    raise BadInput("only the agent it is attributed to may appeal", field="by")
                await self.ledger.appeal(
                    violation["id"],
                    by=user.name,
                    agent=user.agent,
                    reason=reason,
                    now=now,
                    window=self.settings().appeal_window,
                )
            else:
                if not user.decides:
                    raise self._refusal_page(
                        request, 403, N_("Only a supervisor or a lead may do this.")
                    )
                status = "confirmed" if action == "confirm" else "waived"
                await self.ledger.set_status(
                    violation["id"], status, by=user.name, reason=reason, now=now
                )
        except Refused as exc:
            log.info(
                "console action refused",
                action=action,
                violation=violation["id"],
                by=user.name,
                error=str(exc),
            )
            fresh = await self.ledger.get(violation["id"])
            context = await self._violation_context(fresh, user)
            context.update(error=self.refusal_text(words, exc), reason=reason, failed=action)
            return self._page("violation.html", request, context, status=exc.status)
        log.info("console action", action=action, violation=violation["id"], by=user.name)
        done = {
            "confirm": N_("Confirmed."),
            "waive": N_("Waived."),
            "appeal": N_("Appealed: a supervisor will decide."),
        }[action]
        await self._flash(request, words.gettext(done))
        raise web.HTTPSeeOther(location=f"/violations/{violation['id']}")

    # ---- the month ----

    def _month(self, request: web.Request, text: str | None) -> Month:
        if not text:
            return Month.of(self.clock.now(), self.settings().timezone)
        try:
            return parse_month(text)
        except BadInput as exc:
            raise self._refusal_page(request, 400, str(exc)) from None

    async def _month_context(self, request: web.Request, month: Month) -> dict[str, Any]:
        settings = self.settings()
        now = self.clock.now()
        card = await self.cards.get(settings, month, policy=self.policy(), now=now)
        closed = await self.months.get(str(month))
        pending = await self._appeals_pending(month)
        policy = self.policy()
        async with self.engine.connect() as conn:
            bonus_rows = (
                await conn.execute(
                    select(bonuses).where(bonuses.c.month == str(month)).order_by(bonuses.c.id)
                )
            ).all()
            adjustment_rows = (
                await conn.execute(
                    select(score_adjustments)
                    .where(score_adjustments.c.month == str(month))
                    .order_by(score_adjustments.c.agent)
                )
            ).all()
        return {
            "month": str(month),
            "previous": str(month.previous()),
            "following": str(month.plus(1)),
            "card": card,
            "closed": closed if closed is not None and closed.closed else None,
            "month_audit": await self.months.audit(str(month)),
            "score_audit": await score_entries.scorecard_audit(self.engine, str(month)),
            "pending": pending,
            "bonus_rows": bonus_rows,
            "adjustment_rows": adjustment_rows,
            "bonus_codes": sorted(policy.bonuses.values(), key=lambda b: b.code),
            "deduction_codes": sorted(
                (d for d in policy.deductions.values() if not d.derived), key=lambda d: d.code
            ),
            "shops": [s.id for s in settings.shops],
            "adjustment_limit": policy.score.adjustment_limit,
            "agents": settings.agents,
            "today": now.astimezone(settings.timezone).date().isoformat(),
        }

    async def _appeals_pending(self, month: Month) -> dict[str, int]:
        tz = self.settings().timezone
        query = (
            select(violations.c.agent, func.count())
            .where(
                violations.c.status == "appealed",
                violations.c.deadline >= month.start(tz),
                violations.c.deadline < month.end(tz),
            )
            .group_by(violations.c.agent)
        )
        async with self.engine.connect() as conn:
            return {agent or "": int(n) for agent, n in await conn.execute(query)}

    async def month_page(self, request: web.Request) -> web.StreamResponse:
        self._decider(request)
        month = self._month(request, request.query.get("month"))
        return self._page("month.html", request, await self._month_context(request, month))

    async def _card(self, request: web.Request) -> Any:
        self._decider(request)
        month = self._month(request, request.match_info["month"])
        settings = self.settings()
        return await self.cards.get(settings, month, policy=self.policy(), now=self.clock.now())

    async def month_csv(self, request: web.Request) -> web.StreamResponse:
        card = await self._card(request)
        return web.Response(
            body=export.scorecard_csv(card),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="scorecard-{card.month}.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def month_xlsx(self, request: web.Request) -> web.StreamResponse:
        card = await self._card(request)
        return web.Response(
            body=export.scorecard_xlsx(card, self.words(request)),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={
                "Content-Disposition": f'attachment; filename="scorecard-{card.month}.xlsx"',
                "Cache-Control": "no-store",
            },
        )

    async def month_action(self, request: web.Request) -> web.StreamResponse:
        user = self._decider(request)
        month = self._month(request, request.match_info["month"])
        action = request.match_info["action"]
        if action not in ("close", "reopen", "bonus", "adjustment", "violation"):
            raise web.HTTPNotFound()
        form = await self._form(request)
        words = self.words(request)
        settings = self.settings()
        now = self.clock.now()
        reason = form.get("reason", "").strip()
        try:
            self._writable(request)
            if not reason:
                raise BadInput("required", field="reason")
            if action == "close":
                await close_month(
                    self.engine,
                    settings,
                    month,
                    by=user.name,
                    reason=reason,
                    now=now,
                    policy=self.policy(),
                )
                done = N_("The month is closed: its scorecard is frozen.")
            elif action == "reopen":
                if not user.is_lead:
                    raise self._refusal_page(request, 403, N_("Only a lead may reopen a month."))
                await reopen_month(self.engine, month, by=user.name, reason=reason, now=now)
                done = N_("The month is open again.")
            elif action == "bonus":
                points = form.get("points", "").strip()
                await score_entries.add_bonus(
                    self.engine,
                    settings,
                    agent=form.get("agent", ""),
                    code=form.get("code", ""),
                    day=form.get("day", ""),
                    by=user.name,
                    reason=reason,
                    now=now,
                    points=_whole(points, "points") if points else None,
                    policy=self.policy(),
                )
                done = N_("Bonus recorded.")
            elif action == "violation":
                points = form.get("points", "").strip()
                fine = form.get("fine", "").strip()
                await score_entries.record_manual_violation(
                    self.ledger,
                    settings,
                    code=form.get("code", ""),
                    agent=form.get("agent") or None,
                    at=_local_instant(form.get("at", ""), settings, "at"),
                    note=reason,
                    now=now,
                    by=user.name,
                    shop=form.get("shop") or None,
                    points=_whole(points, "points") if points else None,
                    fine=_amount(fine, "fine") if fine else None,
                    policy=self.policy(),
                )
                done = N_("Violation recorded.")
            else:
                await score_entries.set_adjustment(
                    self.engine,
                    settings,
                    agent=form.get("agent", ""),
                    month=str(month),
                    value=_whole(form.get("value", ""), "value"),
                    by=user.name,
                    reason=reason,
                    now=now,
                    policy=self.policy(),
                )
                done = N_("Adjustment recorded.")
        except Refused as exc:
            context = await self._month_context(request, month)
            context.update(error=self.refusal_text(words, exc), failed=action)
            return self._page("month.html", request, context, status=exc.status)
        log.info("console month action", action=action, month=str(month), by=user.name)
        await self._flash(request, words.gettext(done))
        raise web.HTTPSeeOther(location=f"/month?month={month}")

    # ---- an agent's own page ----

    async def agent_page(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        agent = request.match_info["agent"]
        if not access.may_see_agent(user, agent):
            raise web.HTTPNotFound()
        settings = self.settings()
        month = self._month(request, request.query.get("month"))
        card = await self.cards.get(settings, month, policy=self.policy(), now=self.clock.now())
        row = next((a for a in card.agents if a.agent == agent), None)
        page = await listing.find_page(
            self.engine,
            listing.Filters(
                agent=agent,
                since=month.start(settings.timezone),
                until=month.end(settings.timezone),
            ),
            after=request.query.get("after") or None,
            before=request.query.get("before") or None,
        )
        appealed = (
            select(violations)
            .where(
                violations.c.agent == agent,
                exists().where(
                    violation_events.c.violation_id == violations.c.id,
                    violation_events.c.action == "appealed",
                ),
            )
            .order_by(violations.c.deadline.desc())
            .limit(100)
        )
        async with self.engine.connect() as conn:
            appeals = [violation_json(r) for r in await conn.execute(appealed)]
        closed = await self.months.get(str(month))
        return self._page(
            "agent.html",
            request,
            {
                "agent": agent,
                "month": str(month),
                "previous": str(month.previous()),
                "following": str(month.plus(1)),
                "row": row,
                "page": page,
                "appeals": appeals,
                "closed": closed is not None and closed.closed,
            },
        )

    # ---- people on shift ----

    async def handovers_page(
        self,
        request: web.Request,
        error: str | None = None,
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        self._user(request)
        settings = self.settings()
        today = self.clock.now().astimezone(settings.timezone).date()
        since_text = request.query.get("since") or (today - timedelta(days=7)).isoformat()
        try:
            since = parse_day(since_text, "since")
        except BadInput as exc:
            return self._page(
                "refused.html",
                request,
                {"message": self.refusal_text(self.words(request), exc)},
                status=400,
            )
        notes = await self.people.handovers(since_day=since)
        return self._page(
            "handovers.html",
            request,
            {
                "notes": list(reversed(notes)),
                "since": since.isoformat(),
                "shifts": [s.name for s in settings.shifts],
                "today": today.isoformat(),
                "error": error,
                "form": form or {},
            },
            status=status,
        )

    async def add_handover(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        form = await self._form(request)
        settings = self.settings()
        try:
            self._writable(request)
            await self.people.add_handover(
                shift=form.get("shift"),
                day=form.get("day"),
                by=user.name,
                text=form.get("text"),
                now=self.clock.now(),
                shifts=[s.name for s in settings.shifts],
                calendar=settings.calendar(),
            )
        except Refused as exc:
            return await self.handovers_page(
                request, self.refusal_text(self.words(request), exc), exc.status, form
            )
        await self._flash(request, self.words(request).gettext("Note written."))
        raise web.HTTPSeeOther(location="/handovers")

    async def leaves_page(
        self,
        request: web.Request,
        error: str | None = None,
        status: int = 200,
        form: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        self._decider(request)
        now = self.clock.now()
        found = await self.people.leaves(since=now - timedelta(days=30))
        return self._page(
            "leaves.html",
            request,
            {
                "leaves": found,
                "agents": self.settings().agents,
                "error": error,
                "form": form or {},
            },
            status=status,
        )

    async def add_leave(self, request: web.Request) -> web.StreamResponse:
        user = self._decider(request)
        form = await self._form(request)
        settings = self.settings()
        try:
            self._writable(request)
            await self.people.add_leave(
                agent=form.get("agent"),
                start=_local_instant(form.get("from", ""), settings, "from"),
                end=_local_instant(form.get("until", ""), settings, "until"),
                by=user.name,
                reason=form.get("reason", ""),
                now=self.clock.now(),
                roster=settings.roster,
            )
        except Refused as exc:
            return await self.leaves_page(
                request, self.refusal_text(self.words(request), exc), exc.status, form
            )
        await self._flash(request, self.words(request).gettext("Leave recorded."))
        raise web.HTTPSeeOther(location="/leaves")


def _whole(text: str, field: str) -> int:
    value = text.strip()
    if not value.lstrip("+-").isdigit() or len(value) > 6:
        raise BadInput("expected a whole number", field=field)
    return int(value)


def _amount(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        raise BadInput("expected an amount in CNY, e.g. 50 or 12.50", field=field) from None
    if not value.is_finite():
        raise BadInput("expected an amount in CNY, e.g. 50 or 12.50", field=field)
    return value


def _local_instant(text: str, settings: Settings, field: str) -> datetime:
    """A ``datetime-local`` field (``2026-11-02T09:00``) read in the shop's timezone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput("expected a date and time", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.timezone)
    return moment
