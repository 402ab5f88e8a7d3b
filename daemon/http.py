"""The daemon's HTTP interface (SPEC §6): metrics, health, and the violations API.

Reads are open on the (loopback by default) listener; every write needs the bearer token
from ``[http] api_token_file``. Without a token file configured, writes are refused.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from connectors.errors import BadResponse
from connectors.wire import parse_instant
from daemon.clock import Clock
from daemon.ledger import STATUSES, Ledger, LedgerError, NotFound

Readiness = Callable[[], tuple[bool, dict[str, Any]]]
TokenReader = Callable[[], str | None]
Scorecard = Callable[[str], Awaitable[dict[str, Any]]]


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def _instant(value: str, name: str) -> datetime:
    try:
        return parse_instant(value, name)
    except BadResponse as exc:
        raise _bad_request(f"{name}: expected an RFC 3339 time with offset ({exc})") from None


class Api:
    def __init__(
        self,
        *,
        ledger: Ledger,
        clock: Clock,
        readiness: Readiness,
        api_token: TokenReader,
        scorecard: Scorecard | None = None,
    ) -> None:
        self.ledger = ledger
        self.clock = clock
        self.readiness = readiness
        self.api_token = api_token
        self.scorecard_fn = scorecard

    def _authorize(self, request: web.Request) -> None:
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
            raise _bad_request(f"status: must be one of {', '.join(STATUSES)}")
        limit = q.get("limit")
        if limit is not None and not limit.isdigit():
            raise _bad_request("limit: expected a whole number")
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
        try:
            return web.json_response(await self.ledger.get(int(request.match_info["id"])))
        except (NotFound, ValueError):
            raise web.HTTPNotFound(
                text=json.dumps({"error": "no such violation"}), content_type="application/json"
            ) from None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _bad_request("body: expected a JSON object") from None
        if not isinstance(body, dict):
            raise _bad_request("body: expected a JSON object")
        return body

    async def add_violation(self, request: web.Request) -> web.Response:
        self._authorize(request)
        body = await self._body(request)
        rule = body.get("rule")
        if not isinstance(rule, str) or not rule.strip():
            raise _bad_request("rule: required, a catalogue code such as M201 or a rule code")
        at = body.get("at")
        if not isinstance(at, str):
            raise _bad_request("at: required, an RFC 3339 time")
        points = body.get("points", 0)
        if isinstance(points, bool) or not isinstance(points, int):
            raise _bad_request("points: expected a whole number")
        try:
            fine = Decimal(str(body.get("fine", 0)))
        except InvalidOperation:
            raise _bad_request("fine: expected a number") from None
        agent = body.get("agent")
        if agent is not None and not isinstance(agent, str):
            raise _bad_request("agent: expected a string or null")
        note = body.get("note")
        violation = await self.ledger.add_manual(
            shop=body.get("shop") if isinstance(body.get("shop"), str) else None,
            rule=rule.strip(),
            agent=agent,
            at=_instant(at, "at"),
            points=points,
            fine=fine,
            note=note if isinstance(note, str) else None,
            by=body.get("by") if isinstance(body.get("by"), str) else None,
            now=self.clock.now(),
        )
        return web.json_response(violation, status=201)

    async def _transition(self, request: web.Request, status: str) -> web.Response:
        self._authorize(request)
        body = await self._body(request)
        by, reason = body.get("by"), body.get("reason", "")
        if not isinstance(by, str) or not by.strip():
            raise _bad_request("by: required, the supervisor's name")
        if not isinstance(reason, str):
            raise _bad_request("reason: expected a string")
        try:
            violation_id = int(request.match_info["id"])
            result = await self.ledger.set_status(
                violation_id, status, by=by, reason=reason, now=self.clock.now()
            )
        except (NotFound, ValueError):
            raise web.HTTPNotFound(
                text=json.dumps({"error": "no such violation"}), content_type="application/json"
            ) from None
        except LedgerError as exc:
            raise web.HTTPConflict(
                text=json.dumps({"error": str(exc)}), content_type="application/json"
            ) from None
        return web.json_response(result)

    async def waive(self, request: web.Request) -> web.Response:
        return await self._transition(request, "waived")

    async def confirm(self, request: web.Request) -> web.Response:
        return await self._transition(request, "confirmed")

    async def scorecard(self, request: web.Request) -> web.Response:
        if self.scorecard_fn is None:
            raise web.HTTPNotImplemented(text="scorecards are not available")
        month = request.query.get("month", "")
        try:
            return web.json_response(await self.scorecard_fn(month))
        except ValueError as exc:
            raise _bad_request(f"month: {exc}") from None


def make_app(api: Api, registry: CollectorRegistry) -> web.Application:
    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/readyz", api.readyz)
    app.router.add_get("/api/violations", api.list_violations)
    app.router.add_post("/api/violations", api.add_violation)
    app.router.add_get("/api/violations/{id}", api.show_violation)
    app.router.add_post("/api/violations/{id}/waive", api.waive)
    app.router.add_post("/api/violations/{id}/confirm", api.confirm)
    app.router.add_get("/api/scorecard", api.scorecard)
    return app
