"""A small simulated shop with a known story, served by the real simulator app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestServer

from connectors.model import Direction, OrderStatus
from daemon.simulator.app import make_simulator_app
from daemon.simulator.world import World, new_message, new_order

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: datetime, hhmm: str) -> datetime:
    """``hhmm`` on the local (Asia/Shanghai) date of ``day``, as an aware datetime."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    d = day.astimezone(SHANGHAI)
    return d.replace(hour=hour, minute=minute, second=0, microsecond=0)


def story(world: World, now: datetime) -> dict[str, tuple[str, str]]:
    """Write a morning's story into ``world``; ``now`` is 10:05 local. Returns the violations
    it must produce as {subject id: (rule, agent or "")}."""
    # CS101: placed 09:00, never chased → D 10:00, a violation; a1 wrote to the buyer earlier.
    world.add_message(
        new_message(
            message_id="m-10",
            buyer_id="b-1",
            at=local(now, "08:50"),
            direction=Direction.AGENT,
            agent_id="a1",
            text="在的亲",
        )
    )
    world.put_order(new_order(order_id="o-1", buyer_id="b-1", at=local(now, "09:00")))
    # CS101: placed 09:10, chased at 09:30 by a2 → satisfied.
    world.put_order(new_order(order_id="o-2", buyer_id="b-2", at=local(now, "09:10")))
    world.add_message(
        new_message(
            message_id="m-20",
            buyer_id="b-2",
            at=local(now, "09:30"),
            direction=Direction.AGENT,
            agent_id="a2",
            text="亲，记得付款哦",
        )
    )
    # CS101: placed 09:50 → open, due 10:50.
    world.put_order(new_order(order_id="o-3", buyer_id="b-3", at=local(now, "09:50")))
    # CS101: auto-reply only → still a violation (team level: two agents on duty, nobody wrote).
    world.put_order(new_order(order_id="o-4", buyer_id="b-4", at=local(now, "08:40")))
    world.add_message(
        new_message(
            message_id="m-40",
            buyer_id="b-4",
            at=local(now, "08:41"),
            direction=Direction.AGENT,
            is_auto=True,
            text="自动回复",
        )
    )
    # CS102: offline at 03:00, answered 08:45 by a1 (D 08:40) → tier 1, team level.
    world.add_message(
        new_message(
            message_id="m-50",
            buyer_id="b-5",
            at=local(now, "03:00"),
            direction=Direction.BUYER,
            text="在吗",
        )
    )
    world.add_message(
        new_message(
            message_id="m-51",
            buyer_id="b-5",
            at=local(now, "08:45"),
            direction=Direction.AGENT,
            agent_id="a1",
            text="在的",
        )
    )
    # CS103: paid 09:00 with a request, no memo → D 09:30, a violation.
    paid = local(now, "09:00")
    order = new_order(
        order_id="o-6", buyer_id="b-6", at=paid - timedelta(minutes=2), buyer_message="请发顺丰"
    )
    world.put_order(replace(order, updated_at=paid, status=OrderStatus.PAID, paid_at=paid))
    # CS105: the shop's automatic template confirms o-6 at once → satisfied.
    world.add_message(
        new_message(
            message_id="m-60",
            buyer_id="b-6",
            at=paid + timedelta(seconds=5),
            direction=Direction.AGENT,
            is_auto=True,
            text="【自动回复】亲，订单已付款，请核对收货地址",
        )
    )
    return {
        "o-1": ("CS101", "a1"),
        "o-4": ("CS101", ""),
        "m-50": ("CS102", ""),  # nobody wrote to b-5 before D; two agents on duty
        "o-6": ("CS103", ""),
    }


@asynccontextmanager
async def simulator(world: World, token: str = "test-token") -> AsyncIterator[str]:
    server = TestServer(make_simulator_app(world, token), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
