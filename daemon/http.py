"""The daemon's HTTP interface (SPEC §6): metrics, health, and the violations API.

Reads are open on the (loopback by default) listener; every write needs the bearer token
from ``[http] api_token_file``. Without a token file configured, writes are refused.

One error policy (:mod:`daemon.errors`): a refusal raised anywhere below becomes its status
(400 bad input naming the field, 404, 409) with ``{"error", "field"}``; anything else is a
bug, logged, and answered 500 without a trace.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.clock import Clock
from daemon.config.settings import Settings
from daemon.console.access import api_user
from daemon.errors import BadInput, NotFound, Refused
from daemon.scoring import entries as score_entries
from daemon.scoring import records
from daemon.scoring.policy_file import PolicyFiles
from daemon.scoring.render import scorecard_json
from daemon.store.ledger import STATUSES, Ledger, summarize_evidence
from daemon.store.people import PeopleBook, parse_day, parse_since

log = structlog.get_logger("shopwatch.http")

MAX_ID = 2**63 - 1
"""Ids are 64-bit in the database; a larger one names no violation."""

Readiness = Callable[[], tuple[bool, dict[str, Any]]]
TokenReader = Callable[[], str | None]


def _instant(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadInput(
            f"expected an RFC 3339 time with offset, e.g. 2026-11-02T10:00:00+08:00, not {value!r}",
            field=name,
        )
    return moment


def _violation_id(request: web.Request) -> int:
    text = request.match_info["id"]
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        raise NotFound(f"no violation with id {text!r}", field="id")
    return int(text)


class Api:
    def __init__(
        self,
        *,
        ledger: Ledger,
        engine: AsyncEngine,
        clock: Clock,
        readiness: Readiness,
        api_token: TokenReader,
        settings: Callable[[], Settings],
    ) -> None:
        self.ledger = ledger
        self.engine = engine
        self.clock = clock
        self.readiness = readiness
        self.api_token = api_token
        self.settings = settings
        self.policies = PolicyFiles()
        self.people = PeopleBook(engine)

    def _authorize(self, request: web.Request) -> None:
        if api_user(request, "write") is not None:
            return  # a supervisor's or lead's console session, with its CSRF header
        expected = self.api_token()
        if not expected:
            raise web.HTTPForbidden(
                text=json.dumps({"error": "writes are disabled: set [http] api_token_file"}),
                content_type="application/json",
            )
        given = request.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), expected):
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "a valid bearer token is required"}),
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="shopwatch"'},
            )

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        ready, details = self.readiness()
        return web.json_response(
            {"status": "ready" if ready else "starting", **details}, status=200 if ready else 503
        )

    async def list_violations(self, request: web.Request) -> web.Response:
        q = request.query
        status = q.get("status") or None
        if status and status not in STATUSES:
            raise BadInput(f"must be one of {', '.join(STATUSES)}", field="status")
        limit = q.get("limit")
        if limit is not None and not (limit.isascii() and limit.isdigit()):
            raise BadInput("expected a whole number", field="limit")
        violations = await self.ledger.find(
            shop=q.get("shop") or None,
            rule=q.get("rule") or None,
            agent=q.get("agent") or None,
            status=status,
            since=_instant(q["since"], "since") if q.get("since") else None,
            until=_instant(q["until"], "until") if q.get("until") else None,
            limit=int(limit) if limit else None,
        )
        return web.json_response({"violations": violations})

    async def show_violation(self, request: web.Request) -> web.Response:
        violation = await self.ledger.get(_violation_id(request))
        violation["summary"] = summarize_evidence(
            violation, self.settings().timezone, self.clock.now()
        )
        return web.json_response(violation)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadInput("expected a JSON object", field="body") from None
        if not isinstance(body, dict):
            raise BadInput("expected a JSON object", field="body")
        person = api_user(request, "write")
        if person is not None:
            body["by"] = person.name  # a signed-in person acts as themselves (SPEC §8)
        return body

    async def add_violation(self, request: web.Request) -> web.Response:
        """A supervisor's manual entry (SPEC §6), checked against the catalogue."""
        self._authorize(request)
        body = await self._body(request)
        rule = body.get("rule")
        if not isinstance(rule, str) or not rule.strip():
            raise BadInput("required, a catalogue code such as M201", field="rule")
        at = body.get("at")
        if not isinstance(at, str):
            raise BadInput("required, an RFC 3339 time", field="at")
        points = body.get("points")
        if points is not None and (isinstance(points, bool) or not isinstance(points, int)):
            raise BadInput("expected a whole number", field="points")
        fine = None
        if body.get("fine") is not None:
            try:
                fine = Decimal(str(body["fine"]))
            except InvalidOperation:
                raise BadInput("expected a number", field="fine") from None
        violation = await score_entries.record_manual_violation(
            self.ledger,
            self.settings(),
            code=rule.strip(),
            agent=_optional_text(body, "agent"),
            at=_instant(at, "at"),
            note=_optional_text(body, "note"),
            now=self.clock.now(),
            by=_optional_text(body, "by"),
            shop=_optional_text(body, "shop"),
            points=points,
            fine=fine,
            policy=self.policies.policy_for(self.settings()),
        )
        return web.json_response(violation, status=201)

    async def _transition(self, request: web.Request, status: str) -> web.Response:
        self._authorize(request)
        body = await self._body(request)
        by, reason = body.get("by"), body.get("reason", "")
        if not isinstance(by, str) or not by.strip():
            raise BadInput("required, the supervisor's name", field="by")
        if not isinstance(reason, str):
            raise BadInput("expected a string", field="reason")
        result = await self.ledger.set_status(
            _violation_id(request), status, by=by, reason=reason, now=self.clock.now()
        )
        return web.json_response(result)

    async def appeal(self, request: web.Request) -> web.Response:
        """``{by, reason}``: the attributed agent disputes an open violation (申诉)."""
        self._authorize(request)
        body = await self._body(request)
        result = await self.ledger.appeal(
            _violation_id(request),
            by=_text(body, "by"),
            reason=_text(body, "reason"),
            now=self.clock.now(),
            window=self.settings().appeal_window,
        )
        return web.json_response(result)

    async def waive(self, request: web.Request) -> web.Response:
        return await self._transition(request, "waived")

    async def confirm(self, request: web.Request) -> web.Response:
        return await self._transition(request, "confirmed")

    async def scorecard(self, request: web.Request) -> web.Response:
        settings = self.settings()
        card = await records.load_scorecard(
            self.engine,
            settings,
            records.parse_month(request.query.get("month", "")),
            policy=self.policies.policy_for(settings),
            now=self.clock.now(),
        )
        return web.json_response(scorecard_json(card))

    async def add_bonus(self, request: web.Request) -> web.Response:
        """``{agent, code, day, by, reason[, points]}``: a catalogue bonus."""
        self._authorize(request)
        body = await self._body(request)
        bonus = await score_entries.add_bonus(
            self.engine,
            self.settings(),
            agent=_text(body, "agent"),
            code=_text(body, "code"),
            day=_text(body, "day"),
            by=_text(body, "by"),
            reason=_text(body, "reason"),
            points=body.get("points"),
            now=self.clock.now(),
            policy=self.policies.policy_for(self.settings()),
        )
        return web.json_response(bonus, status=201)

    async def set_adjustment(self, request: web.Request) -> web.Response:
        """``{agent, month, value, by, reason}``: the supervisor's −5…+5 for a month."""
        self._authorize(request)
        body = await self._body(request)
        value = body.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput("expected a whole number from -5 to 5", field="value")
        result = await score_entries.set_adjustment(
            self.engine,
            self.settings(),
            agent=_text(body, "agent"),
            month=_text(body, "month"),
            value=value,
            by=_text(body, "by"),
            reason=_text(body, "reason"),
            now=self.clock.now(),
            policy=self.policies.policy_for(self.settings()),
        )
        return web.json_response(result)

    # ---- people on shift: leaves and the handover book (SPEC §6) ----

    async def add_leave(self, request: web.Request) -> web.Response:
        """``{agent, from, until, by, reason}``: a supervisor-approved absence."""
        self._authorize(request)
        body = await self._body(request)
        leave = await self.people.add_leave(
            agent=body.get("agent"),
            start=body.get("from"),
            end=body.get("until"),
            by=body.get("by"),
            reason=body.get("reason"),
            now=self.clock.now(),
            roster=self.settings().roster,
        )
        return web.json_response(leave.to_json(), status=201)

    async def list_leaves(self, request: web.Request) -> web.Response:
        """``?agent&since``: leaves not over by ``since`` (RFC 3339, or a day)."""
        q = request.query
        since = q.get("since")
        found = await self.people.leaves(
            agent=q.get("agent") or None,
            since=parse_since(since, self.settings().timezone) if since else None,
        )
        return web.json_response({"leaves": [leave.to_json() for leave in found]})

    async def add_handover(self, request: web.Request) -> web.Response:
        """``{shift, day, by, text}``: a note in the handover book, written now."""
        self._authorize(request)
        body = await self._body(request)
        settings = self.settings()
        note = await self.people.add_handover(
            shift=body.get("shift"),
            day=body.get("day"),
            by=body.get("by"),
            text=body.get("text"),
            now=self.clock.now(),
            shifts=[s.name for s in settings.shifts],
            calendar=settings.calendar(),
        )
        return web.json_response(note.to_json(), status=201)

    async def list_handovers(self, request: web.Request) -> web.Response:
        """``?shift&since``: notes for occurrences from day ``since`` on (YYYY-MM-DD), or
        written from ``since`` on (RFC 3339)."""
        q = request.query
        since = (q.get("since") or "").strip()
        day = parse_day(since, "since") if len(since) == 10 else None
        written = parse_since(since, self.settings().timezone) if since and day is None else None
        found = await self.people.handovers(
            shift=q.get("shift") or None, since_day=day, written_since=written
        )
        return web.json_response({"handovers": [note.to_json() for note in found]})


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadInput("required", field=key)
    return value


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput("expected a string or null", field=key)
    return value


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A refusal becomes its status with the reason and the field; aiohttp's own HTTP errors
    pass; anything else is a bug: logged with its trace, answered 500 without one."""
    try:
        return await handler(request)
    except Refused as exc:
        return web.json_response(exc.to_json(), status=exc.status)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("request failed", method=request.method, path=request.path)
        return web.json_response({"error": "internal error; see the daemon's log"}, status=500)


def make_app(api: Api, registry: CollectorRegistry) -> web.Application:
    app = web.Application(middlewares=[_errors_as_json])
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/readyz", api.readyz)
    app.router.add_get("/api/violations", api.list_violations)
    app.router.add_post("/api/violations", api.add_violation)
    app.router.add_get("/api/violations/{id}", api.show_violation)
    app.router.add_post("/api/violations/{id}/waive", api.waive)
    app.router.add_post("/api/violations/{id}/confirm", api.confirm)
    app.router.add_post("/api/violations/{id}/appeal", api.appeal)
    app.router.add_get("/api/scorecard", api.scorecard)
    app.router.add_post("/api/bonuses", api.add_bonus)
    app.router.add_post("/api/adjustments", api.set_adjustment)
    app.router.add_get("/api/leaves", api.list_leaves)
    app.router.add_post("/api/leaves", api.add_leave)
    app.router.add_get("/api/handovers", api.list_handovers)
    app.router.add_post("/api/handovers", api.add_handover)
    return app
