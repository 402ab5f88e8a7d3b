"""The daemon's HTTP interface (SPEC §6): metrics, health, and the violations API.

``/metrics``, ``/healthz``, ``/readyz`` and ``/api/openapi.json`` are open. Every other
``/api`` request needs a bearer token (:meth:`Api._authorize`): reads take the write token
(``[http] api_token_file``) or the read-only one (``[http] read_token_file``), writes only the
write token; without a token configured that kind of request is refused. Every request must
name a host the daemon answers to (the listen address, loopback names, ``[http]
allowed_hosts``), so a page whose DNS name was rebound to this listener reaches nothing.

One error policy (:mod:`daemon.errors`): a refusal raised anywhere below becomes its status
(400 bad input naming the field, 404, 409) with ``{"error", "field"}``; anything else is a
bug, logged, and answered 500 without a trace.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, Literal

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.aiohttp import make_aiohttp_handler
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.clock import Clock
from daemon.config.settings import Settings
from daemon.console.access import api_user
from daemon.errors import BadInput, NotFound, Refused
from daemon.logs import Throttled
from daemon.scoring import entries as score_entries
from daemon.scoring import records
from daemon.scoring.policy_file import PolicyFiles
from daemon.scoring.render import scorecard_json
from daemon.store.ledger import (
    STATUSES,
    Ledger,
    checked_fine,
    checked_points,
    summarize_evidence,
)
from daemon.store.people import PeopleBook, parse_day, parse_since
from daemon.store.tables import (
    bonuses,
    handovers,
    leaves,
    row_id,
    violation_events,
    violations,
)

log = structlog.get_logger("shopwatch.http")

PAGE_DEFAULT = 100
PAGE_MAX = 1000
"""``GET /api/violations`` answers at most this many per request: one page is a bounded
indexed read, whatever the ledger's size; ``next`` continues the listing."""
TEXT_MAX = 4000
"""Free text (a reason, a note) longer than this is refused."""
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
OPENAPI = "openapi.json"
"""The API's description, written by hand: the contract, served at /api/openapi.json."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Readiness = Callable[[], tuple[bool, dict[str, Any]]]
TokenReader = Callable[[], str | None]
StorageFailure = Callable[[], str | None]
Need = Literal["read", "write"]

# JSON answers never carry NaN or Infinity (invalid JSON): a value that cannot be written
# is a bug to log, not a body a client cannot parse.
_dumps = functools.partial(json.dumps, allow_nan=False)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _refusal(
    exception: type[web.HTTPException], message: str, field: str, **kwargs: Any
) -> web.HTTPException:
    return exception(
        text=_dumps({"error": f"{field}: {message}", "field": field}),
        content_type="application/json",
        **kwargs,
    )


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
    found = row_id(text)
    if found is None:
        raise NotFound(f"no violation with id {text[:40]!r}", field="id")
    return found


def _width(column: Any) -> int | None:
    """A text column's length (what PostgreSQL accepts), None for unbounded text."""
    length = getattr(column.type, "length", None)
    return length if isinstance(length, int) else None


def _query_text(request: web.Request, name: str, column: Any) -> str | None:
    """A filter value: empty means none; longer than its column or holding a control
    character (PostgreSQL cannot even compare a NUL) it is refused, naming the parameter."""
    value = request.query.get(name) or None
    if value is None:
        return None
    limit = _width(column) or TEXT_MAX
    if len(value) > limit:
        raise BadInput(f"at most {limit} characters", field=name)
    if not value.isprintable():
        raise BadInput("must not contain control characters", field=name)
    return value


def _limit(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None or text == "":
        return PAGE_DEFAULT
    if not (text.isascii() and text.isdigit()) or len(text) > 4 or not 1 <= int(text) <= PAGE_MAX:
        raise BadInput(f"expected a whole number from 1 to {PAGE_MAX}", field="limit")
    return int(text)


_CURSOR = re.compile(r"([0-9]{1,18})-([0-9]{1,19})")


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    """``after``: the ``next`` of the previous page, ``<deadline µs since 1970>-<id>``."""
    if not text:
        return None
    match = _CURSOR.fullmatch(text)
    if match is None or row_id(match.group(2)) is None:
        raise BadInput("expected the `next` value of the previous page", field="after")
    try:
        deadline = EPOCH + timedelta(microseconds=int(match.group(1)))
    except OverflowError:
        raise BadInput("expected the `next` value of the previous page", field="after") from None
    return deadline, int(match.group(2))


def _next_cursor(violation: dict[str, Any]) -> str:
    deadline = datetime.fromisoformat(violation["deadline"])
    micros = (deadline - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{violation['id']}"


def _host_name(header: str) -> str:
    """``Host`` without its port, lower-case: ``[::1]:9310`` → ``::1``."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


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
        read_token: TokenReader = lambda: None,
        auth_failures: Counter | None = None,
        storage_failure: StorageFailure = lambda: None,
        conversion_days: records.ConversionDays | None = None,
    ) -> None:
        self.ledger = ledger
        self.engine = engine
        self.clock = clock
        self.readiness = readiness
        self.api_token = api_token
        self.read_token = read_token
        self.settings = settings
        self.auth_failures = auth_failures
        self.storage_failure = storage_failure
        self.policies = PolicyFiles()
        self.conversion_days = conversion_days or records.ConversionDays()
        self._auth_log = Throttled(log)
        self._host_log = Throttled(log)
        self.people = PeopleBook(engine)

    # ---- who may ask ----

    def _authorize(self, request: web.Request, need: Need = "write") -> None:
        """The one check of who may do what: a read needs the read or the write token, a
        write the write token. A supervisor's or lead's console session is a third way
        (:func:`daemon.console.access.api_user`: writes also need its CSRF header)."""
        if api_user(request, need) is not None:
            return
        write = self.api_token()
        accepted = [t for t in (write, self.read_token() if need == "read" else None) if t]
        if not accepted:
            key = "api_token_file" if need == "write" else "read_token_file or api_token_file"
            raise _refusal(
                web.HTTPForbidden,
                f"{need}s are disabled: set [http] {key} in the config",
                "Authorization",
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        token = given.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not token:
            self._auth_failed(request, "missing")
        elif not any(hmac.compare_digest(token, t.encode()) for t in accepted):
            read = self.read_token() if need == "write" else None
            if read and hmac.compare_digest(token, read.encode()):
                self._auth_failed(request, "read_only")
            self._auth_failed(request, "invalid")

    def _auth_failed(self, request: web.Request, reason: str) -> None:
        if self.auth_failures is not None:
            self.auth_failures.labels(reason).inc()
        self._auth_log(
            "API request refused: credentials",
            reason=reason,
            method=request.method,
            path=request.path,
            peer=request.remote,
        )
        if reason == "read_only":
            raise _refusal(web.HTTPForbidden, "this token may read, not write", "Authorization")
        raise _refusal(
            web.HTTPUnauthorized,
            "a valid bearer token is required",
            "Authorization",
            headers={"WWW-Authenticate": 'Bearer realm="shopwatch"'},
        )

    def allowed_hosts(self) -> frozenset[str]:
        settings = self.settings()
        return LOOPBACK_HOSTS | {settings.listen[0].lower(), *settings.allowed_hosts}

    def check_host(self, request: web.Request) -> None:
        """Refuse a request naming a host the daemon does not answer to (DNS rebinding: a
        web page whose name now resolves to this listener)."""
        header = request.headers.get("Host")
        if header is None:  # HTTP/1.0 without Host: no browser sends that
            return
        if _host_name(header) not in self.allowed_hosts():
            self._host_log("request for another host refused", host=header[:100])
            raise _refusal(
                web.HTTPMisdirectedRequest,
                "this daemon does not answer to that host; add it to [http] allowed_hosts",
                "Host",
            )

    def _writable(self) -> None:
        failure = self.storage_failure()
        if failure is not None:
            raise web.HTTPServiceUnavailable(
                text=_dumps({"error": f"nothing can be recorded now: {failure}"}),
                content_type="application/json",
            )

    # ---- open endpoints ----

    async def healthz(self, request: web.Request) -> web.Response:
        return _json({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        ready, details = self.readiness()
        return _json({"status": "ready" if ready else "starting", **details}, 200 if ready else 503)

    async def openapi(self, request: web.Request) -> web.Response:
        text = (resources.files("daemon") / OPENAPI).read_text(encoding="utf-8")
        return web.Response(text=text, content_type="application/json")

    # ---- reads ----

    async def list_violations(self, request: web.Request) -> web.Response:
        """One page, in (deadline, id) order; ``next`` (null on the last page) is the
        ``after`` of the following one."""
        self._authorize(request, "read")
        q = request.query
        status = _query_text(request, "status", violations.c.status)
        if status and status not in STATUSES:
            raise BadInput(f"must be one of {', '.join(STATUSES)}", field="status")
        limit = _limit(request)
        found = await self.ledger.find(
            shop=_query_text(request, "shop", violations.c.shop),
            rule=_query_text(request, "rule", violations.c.rule),
            agent=_query_text(request, "agent", violations.c.agent),
            status=status,
            since=_instant(q["since"], "since") if q.get("since") else None,
            until=_instant(q["until"], "until") if q.get("until") else None,
            after=_cursor(q.get("after")),
            limit=limit + 1,
        )
        page = found[:limit]
        more = len(found) > limit
        return _json({"violations": page, "next": _next_cursor(page[-1]) if more else None})

    async def show_violation(self, request: web.Request) -> web.Response:
        self._authorize(request, "read")
        violation = await self.ledger.get(_violation_id(request))
        violation["summary"] = summarize_evidence(
            violation, self.settings().timezone, self.clock.now()
        )
        return _json(violation)

    # ---- writes ----

    async def _body(self, request: web.Request) -> dict[str, Any]:
        charset = (request.charset or "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise BadInput("a JSON body is UTF-8: send charset=utf-8 or none", field="Content-Type")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise BadInput("larger than the 1 MiB a request may carry", field="body") from None
        try:
            body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadInput("expected a JSON object", field="body") from None
        except RecursionError:
            raise BadInput("nested too deeply", field="body") from None
        if not isinstance(body, dict):
            raise BadInput("expected a JSON object", field="body")
        person = api_user(request, "write")
        if person is not None:
            body["by"] = person.name  # a signed-in person acts as themselves (SPEC §8)
        return body

    async def add_violation(self, request: web.Request) -> web.Response:
        """A supervisor's manual entry (SPEC §6), checked against the catalogue."""
        self._authorize(request, "write")
        self._writable()
        body = await self._body(request)
        rule = _text(body, "rule", limit=_width(violations.c.rule))
        at = body.get("at")
        if not isinstance(at, str):
            raise BadInput("required, an RFC 3339 time", field="at")
        points = body.get("points")
        if points is not None:
            points = checked_points(points)
        fine = _fine(body.get("fine"))
        violation = await score_entries.record_manual_violation(
            self.ledger,
            self.settings(),
            code=rule.strip(),
            agent=_optional_text(body, "agent", limit=_width(violations.c.agent)),
            at=_instant(at, "at"),
            note=_optional_text(body, "note"),
            now=self.clock.now(),
            by=_optional_text(body, "by", limit=_width(violation_events.c.by)),
            shop=_optional_text(body, "shop", limit=_width(violations.c.shop)),
            points=points,
            fine=fine,
            policy=self.policies.policy_for(self.settings()),
        )
        return _json(violation, 201)

    async def _transition(self, request: web.Request, status: str) -> web.Response:
        self._authorize(request, "write")
        self._writable()
        body = await self._body(request)
        by = body.get("by")
        if not isinstance(by, str) or not by.strip():
            raise BadInput("required, the supervisor's name", field="by")
        by = _text(body, "by", limit=_width(violation_events.c.by))
        reason = _optional_text(body, "reason") or ""
        result = await self.ledger.set_status(
            _violation_id(request), status, by=by, reason=reason, now=self.clock.now()
        )
        return _json(result)

    async def appeal(self, request: web.Request) -> web.Response:
        """``{by, reason}``: the attributed agent disputes an open violation (申诉)."""
        self._authorize(request, "write")
        self._writable()
        body = await self._body(request)
        result = await self.ledger.appeal(
            _violation_id(request),
            by=_text(body, "by", limit=_width(violation_events.c.by)),
            reason=_text(body, "reason"),
            now=self.clock.now(),
            window=self.settings().appeal_window,
        )
        return _json(result)

    async def waive(self, request: web.Request) -> web.Response:
        return await self._transition(request, "waived")

    async def confirm(self, request: web.Request) -> web.Response:
        return await self._transition(request, "confirmed")

    async def scorecard(self, request: web.Request) -> web.Response:
        self._authorize(request, "read")
        settings = self.settings()
        card = await records.load_scorecard(
            self.engine,
            settings,
            records.parse_month(request.query.get("month", "")[:20]),
            policy=self.policies.policy_for(settings),
            now=self.clock.now(),
            conversion_days=self.conversion_days,
        )
        return _json(scorecard_json(card))

    async def add_bonus(self, request: web.Request) -> web.Response:
        """``{agent, code, day, by, reason[, points]}``: a catalogue bonus."""
        self._authorize(request, "write")
        self._writable()
        body = await self._body(request)
        points = body.get("points")
        bonus = await score_entries.add_bonus(
            self.engine,
            self.settings(),
            agent=_text(body, "agent", limit=_width(bonuses.c.agent)),
            code=_text(body, "code", limit=_width(bonuses.c.code)),
            day=_text(body, "day", limit=_width(bonuses.c.day)),
            by=_text(body, "by", limit=_width(bonuses.c.by)),
            reason=_text(body, "reason"),
            points=None if points is None else checked_points(points),
            now=self.clock.now(),
            policy=self.policies.policy_for(self.settings()),
        )
        return _json(bonus, 201)

    async def set_adjustment(self, request: web.Request) -> web.Response:
        """``{agent, month, value, by, reason}``: the supervisor's −5…+5 for a month."""
        self._authorize(request, "write")
        self._writable()
        body = await self._body(request)
        value = body.get("value")
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 100:
            raise BadInput("expected a whole number from -5 to 5", field="value")
        result = await score_entries.set_adjustment(
            self.engine,
            self.settings(),
            agent=_text(body, "agent", limit=_width(bonuses.c.agent)),
            month=_text(body, "month", limit=20),
            value=value,
            by=_text(body, "by", limit=_width(bonuses.c.by)),
            reason=_text(body, "reason"),
            now=self.clock.now(),
            policy=self.policies.policy_for(self.settings()),
        )
        return _json(result)

    # ---- people on shift: leaves and the handover book (SPEC §6) ----

    async def add_leave(self, request: web.Request) -> web.Response:
        """``{agent, from, until, by, reason}``: a supervisor-approved absence."""
        self._authorize(request, "write")
        self._writable()
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
        return _json(leave.to_json(), 201)

    async def list_leaves(self, request: web.Request) -> web.Response:
        """``?agent&since``: leaves not over by ``since`` (RFC 3339, or a day)."""
        self._authorize(request, "read")
        q = request.query
        since = q.get("since")
        found = await self.people.leaves(
            agent=_query_text(request, "agent", leaves.c.agent),
            since=parse_since(since, self.settings().timezone) if since else None,
        )
        return _json({"leaves": [leave.to_json() for leave in found]})

    async def add_handover(self, request: web.Request) -> web.Response:
        """``{shift, day, by, text}``: a note in the handover book, written now."""
        self._authorize(request, "write")
        self._writable()
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
        return _json(note.to_json(), 201)

    async def list_handovers(self, request: web.Request) -> web.Response:
        """``?shift&since``: notes for occurrences from day ``since`` on (YYYY-MM-DD), or
        written from ``since`` on (RFC 3339)."""
        self._authorize(request, "read")
        q = request.query
        since = (q.get("since") or "").strip()
        day = parse_day(since, "since") if len(since) == 10 else None
        written = parse_since(since, self.settings().timezone) if since and day is None else None
        found = await self.people.handovers(
            shift=_query_text(request, "shift", handovers.c.shift),
            since_day=day,
            written_since=written,
        )
        return _json({"handovers": [note.to_json() for note in found]})


def _no_constant(name: str) -> Any:
    raise BadInput(f"{name} is not a number JSON allows", field="body")


def _checked(value: str, key: str, limit: int | None) -> str:
    if len(value) > (limit or TEXT_MAX):
        raise BadInput(f"at most {limit or TEXT_MAX} characters", field=key)
    if "\x00" in value:
        raise BadInput("must not contain NUL characters", field=key)
    return value


def _text(body: dict[str, Any], key: str, *, limit: int | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadInput("required", field=key)
    return _checked(value, key, limit)


def _optional_text(body: dict[str, Any], key: str, *, limit: int | None = None) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput("expected a string or null", field=key)
    return None if value is None else _checked(value, key, limit)


def _fine(value: Any) -> Decimal | None:
    """A fine in CNY: a JSON number or a decimal string, finite and bounded."""
    if value is None:
        return None
    wrong = BadInput('expected an amount in CNY, e.g. 50 or "12.50"', field="fine")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise wrong
    text = str(value).strip()
    if len(text) > 32:
        raise wrong
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise wrong from None
    return checked_fine(amount)


@web.middleware
async def _errors_as_json(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A refusal becomes its status with the reason and the field; aiohttp's own HTTP errors
    pass; anything else is a bug: logged with its trace, answered 500 without one."""
    try:
        return await handler(request)
    except Refused as exc:
        return _json(exc.to_json(), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        # aiohttp's own refusals (no such route, wrong method, body too large) in our shape.
        field = _HTTP_FIELDS.get(exc.status, "request")
        headers = {k: v for k, v in exc.headers.items() if k not in _BODY_HEADERS}
        response = _json({"error": f"{field}: {exc.reason}", "field": field}, exc.status)
        response.headers.update(headers)
        return response
    except Exception:
        log.exception("request failed", method=request.method, path=request.path)
        return _json({"error": "internal error; see the daemon's log"}, 500)


_HTTP_FIELDS = {404: "path", 405: "method", 413: "body", 415: "Content-Type"}
_BODY_HEADERS = {"Content-Type", "Content-Length"}


def _host_check(api: Api) -> Any:
    @web.middleware
    async def check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        api.check_host(request)
        return await handler(request)

    return check


def make_app(
    api: Api, registry: CollectorRegistry, *, first: Sequence[Any] = ()
) -> web.Application:
    """The app; ``first`` are middlewares to run before the host check (the listener's)."""
    app = web.Application(middlewares=[*first, _host_check(api), _errors_as_json])
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/readyz", api.readyz)
    app.router.add_get("/api/openapi.json", api.openapi)
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
