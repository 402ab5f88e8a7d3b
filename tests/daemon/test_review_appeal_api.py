"""Appeal through the HTTP API, the gauges of what awaits a supervisor, and the JSON refusal.

Through a real daemon against the simulated shop: a CS101 violation is appealed by its agent
(bearer token), shows in ``shopwatch_appeals_pending``, a second appeal is a 409 with the
reason, and a supervisor's decision clears the gauge.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from daemon.simulator.world import World
from tests.conftest import FakeClock

from .shop import local, story
from .test_end_to_end import daemon_for, run_once

AUTH = {"Authorization": "Bearer test-token"}


async def test_an_appeal_through_the_api(clock: FakeClock, tmp_path: Path) -> None:
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        violation = next(v for v in await daemon.ledger.find() if v["agent"])
        vid, agent = violation["id"], violation["agent"]
        host, port = await daemon.serve_http()
        base = f"http://{host}:{port}/api/violations/{vid}"
        registry = daemon.metrics.registry
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/appeal", json={"by": agent, "reason": "r"}) as r:
                assert r.status == 401
            async with http.post(f"{base}/appeal", json={"by": agent}, headers=AUTH) as r:
                assert r.status == 400
                assert (await r.json()) == {"error": "reason: required", "field": "reason"}
            async with http.post(
                f"{base}/appeal", json={"by": "someone-else", "reason": "paid"}, headers=AUTH
            ) as r:
                assert r.status == 400  # only the attributed agent may appeal
                assert (await r.json())["field"] == "by"
            async with http.post(
                f"{base}/appeal", json={"by": agent, "reason": "paid"}, headers=AUTH
            ) as r:
                assert r.status == 200
                assert (await r.json())["status"] == "appealed"
            await daemon.publish_decisions()
            assert registry.get_sample_value("shopwatch_appeals_pending", {"shop": "s"}) == 1
            async with http.post(
                f"{base}/appeal", json={"by": agent, "reason": "again"}, headers=AUTH
            ) as r:
                assert r.status == 409
                body = await r.json()
                assert "appealed already" in body["error"] and body["field"] == "status"
            async with http.post(
                f"{base}/confirm", json={"by": "Chen", "reason": ""}, headers=AUTH
            ) as r:
                assert r.status == 400  # deciding an appeal needs a reason
            async with http.post(
                f"{base}/waive", json={"by": "Chen", "reason": "the buyer had paid"}, headers=AUTH
            ) as r:
                assert r.status == 200
            async with http.post(
                f"http://{host}:{port}/api/violations/99999999999999999999/appeal",
                json={"by": agent, "reason": "r"},
                headers=AUTH,
            ) as r:
                assert r.status == 404
        await daemon.publish_decisions()
        assert registry.get_sample_value("shopwatch_appeals_pending", {"shop": "s"}) == 0
