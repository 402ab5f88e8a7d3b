"""Appeal through the HTTP API, the gauges of what awaits a supervisor, and the JSON refusal.

Through a real daemon against the simulated shop: a CS101 violation is appealed by its agent
(bearer token), shows in ``shopwatch_appeals_pending``, a second appeal is a 409 with the
reason, and a supervisor's decision clears the gauge.
"""

from __future__ import annotations

import asyncio
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


async def test_a_waive_and_a_confirm_at_once_one_is_refused(
    clock: FakeClock, tmp_path: Path
) -> None:
    """Two supervisors deciding one violation at the same moment through the API: one
    decision stands, the other is a 409, and the audit trail holds the one that stood."""
    clock.set(local(clock.now(), "10:05"))
    world = World()
    story(world, clock.now())
    async with daemon_for(world, clock, tmp_path) as daemon:
        await run_once(daemon)
        host, port = await daemon.serve_http()
        found = await daemon.ledger.find()
        assert len(found) >= 3

        async def decide(http: aiohttp.ClientSession, vid: int, what: str) -> int:
            async with http.post(
                f"http://{host}:{port}/api/violations/{vid}/{what}",
                json={"by": f"{what}-er", "reason": "r"},
                headers=AUTH,
            ) as r:
                return r.status

        async with aiohttp.ClientSession() as http:
            for violation in found:
                vid = violation["id"]
                statuses = await asyncio.gather(
                    decide(http, vid, "waive"), decide(http, vid, "confirm")
                )
                assert sorted(statuses) == [200, 409], statuses
                final = await daemon.ledger.get(vid)
                decisions = [e for e in final["audit"] if e["action"] in ("waived", "confirmed")]
                assert [e["action"] for e in decisions] == [final["status"]]
