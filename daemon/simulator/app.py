"""The simulated shop's HTTP face: the generic shop API (SPEC §5) over a :class:`World`.

Given a mapping of shop names to worlds instead, it serves each shop under ``/{shop}/``: one
listener for an agency's many shops (the benchmark's agency phase, the failover test), as
many shops on one platform share its host.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from aiohttp import web

from connectors.errors import BadResponse
from connectors.wire import parse_instant
from daemon.simulator.world import World, message_json, order_json, presence_event_json

WORLD = web.AppKey("world", World)


def _since(request: web.Request, key: str) -> tuple[datetime, str | None, int]:
    try:
        since = parse_instant(request.query[key], key)
    except KeyError:
        raise web.HTTPBadRequest(text=f"{key} is required") from None
    except BadResponse as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    limit_text = request.query.get("limit", "100")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        raise web.HTTPBadRequest(text="limit must be 1–500")
    return since, request.query.get("page_token") or None, int(limit_text)


def make_simulator_app(
    world: World | Mapping[str, World], token: str | Callable[[], str]
) -> web.Application:
    read_token = token if callable(token) else (lambda: token)

    def world_of(request: web.Request) -> World:
        if isinstance(world, World):
            return world
        found = world.get(request.match_info["shop"])
        if found is None:
            raise web.HTTPNotFound(text="no such shop")
        return found

    @web.middleware
    async def bearer(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given, read_token()):
            raise web.HTTPUnauthorized(text="bad token")
        return await handler(request)

    async def orders(request: web.Request) -> web.Response:
        since, page_token, limit = _since(request, "updated_since")
        items, next_token = world_of(request).orders_page(since, page_token, limit)
        return web.json_response(
            {"orders": [order_json(o) for o in items], "next_page_token": next_token}
        )

    async def messages(request: web.Request) -> web.Response:
        since, page_token, limit = _since(request, "since")
        items, next_token = world_of(request).messages_page(since, page_token, limit)
        return web.json_response(
            {"messages": [message_json(m) for m in items], "next_page_token": next_token}
        )

    async def agents(request: web.Request) -> web.Response:
        shop = world_of(request)
        if not shop.report_presence:
            raise web.HTTPNotFound()
        return web.json_response(
            {
                "agents": [
                    {
                        "id": p.agent_id,
                        "name": p.agent_id,
                        "status": p.status.value,
                        "status_since": p.since.isoformat(),
                    }
                    for p in shop.presence.values()
                ]
            }
        )

    async def presence(request: web.Request) -> web.Response:
        shop = world_of(request)
        if not (shop.report_presence and shop.report_presence_events):
            raise web.HTTPNotFound()
        since, page_token, limit = _since(request, "since")
        items, next_token = shop.presence_page(since, page_token, limit)
        return web.json_response(
            {"events": [presence_event_json(e) for e in items], "next_page_token": next_token}
        )

    app = web.Application(middlewares=[bearer])
    if isinstance(world, World):
        app[WORLD] = world
    prefix = "" if isinstance(world, World) else "/{shop}"
    app.router.add_get(f"{prefix}/orders", orders)
    app.router.add_get(f"{prefix}/messages", messages)
    app.router.add_get(f"{prefix}/agents", agents)
    app.router.add_get(f"{prefix}/presence", presence)
    return app
