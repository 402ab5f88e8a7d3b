"""A recorded conversation with Shopify, replayed in order (tests/fixtures/shopify/
conversation.json): what the connector asks, in which order, and what it makes of each answer.

The test plays the poller: it starts each poll at a set time with the watermark the poller
would hold, hands back each page token, and waits a rate limit's retry-after before asking
again. Every request must be the next one recorded; every recorded answer must be used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from connectors.errors import RateLimited
from connectors.model import Order, OrderStatus
from connectors.shopify import versions
from connectors.shopify.client import ShopifyClient
from connectors.shopify.normalize import MemoSource, ShopifyRules
from connectors.shopify.source import ShopifyOrderSource
from tests.connectors.support import FixedClock, load_fixture, utc

GRAPHQL = f"https://demo.myshopify.com/admin/api/{versions.PINNED}/graphql.json"
SETTLE = timedelta(seconds=60)


class Recording:
    """Answers each request with the next recorded answer, after checking it is the next
    recorded request."""

    def __init__(self) -> None:
        self.exchanges: list[dict[str, Any]] = load_fixture("shopify", "conversation.json")[
            "exchanges"
        ]
        self.position = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.position < len(self.exchanges), "a request the recording does not have"
        exchange = self.exchanges[self.position]
        self.position += 1
        body = json.loads(request.content)
        expected = exchange["request"]
        assert body["query"].startswith(f"query {expected['operation']}("), exchange["step"]
        assert body["variables"] == expected["variables"], exchange["step"]
        assert request.headers["X-Shopify-Access-Token"] == "shpat_recorded"
        return httpx.Response(exchange["response"]["status"], json=exchange["response"]["body"])

    @property
    def done(self) -> bool:
        return self.position == len(self.exchanges)


class Poller:
    """The poller's part: one poll is every page, a rate limit is waited out and retried."""

    def __init__(self, source: ShopifyOrderSource, clock: FixedClock) -> None:
        self.source = source
        self.clock = clock
        self.rate_limits: list[float] = []

    async def poll(self, since: datetime) -> list[Order]:
        items: list[Order] = []
        token: str | None = None
        while True:
            try:
                page = await self.source.fetch_orders(since, token)
            except RateLimited as limited:
                assert limited.retry_after is not None
                self.rate_limits.append(limited.retry_after)
                self.clock.now += timedelta(seconds=limited.retry_after)
                continue
            items.extend(page.items)
            if page.next_page_token is None:
                return items
            token = page.next_page_token


@pytest.fixture
def recording() -> Iterator[Recording]:
    replay = Recording()
    with respx.mock(assert_all_called=True) as router:
        router.post(GRAPHQL).mock(side_effect=replay)
        yield replay


async def test_two_polls_replay_in_order(recording: Recording) -> None:
    clock = FixedClock(utc("2025-03-01T03:00:00"))
    paced: list[float] = []

    async def sleep(seconds: float) -> None:
        paced.append(seconds)
        clock.now += timedelta(seconds=seconds)

    client = ShopifyClient(
        base_url="https://demo.myshopify.com",
        api_version=versions.PINNED,
        token=lambda: "shpat_recorded",
    )
    source = ShopifyOrderSource(
        client=client,
        rules=ShopifyRules(memo_source=MemoSource.TAGS, memo_tag_prefix="memo:"),
        page_size=250,
        checkout_lookback=timedelta(hours=1),
        clock=clock,
        sleep=sleep,
    )
    poller = Poller(source, clock)

    # Poll 1 at 03:00:00 from the watermark 01:00:00.
    first_poll_start = clock.now
    first = {o.id: o for o in await poller.poll(utc("2025-03-01T01:00:00"))}

    assert paced == [pytest.approx(2.0)], "page 2 waited for 502 points: (502 - 302) / 100"
    assert poller.rate_limits == [pytest.approx(2.0)], "THROTTLED: (252 - 52) / 100"
    assert sorted(first) == [
        "6001", "6002", "6003", "checkout:33000000000001", "checkout:33000000000002",
    ]  # fmt: skip
    assert first["6001"].status is OrderStatus.AWAITING_PAYMENT
    assert first["6002"].paid_at == utc("2025-03-01T01:05:00")
    assert first["6002"].seller_memo == "Confirmed by phone"
    assert first["6003"].status is OrderStatus.CLOSED
    assert first["6003"].buyer_id == "shopify:order:6003"
    open_checkout = first["checkout:33000000000001"]
    assert (open_checkout.status, open_checkout.buyer_id) == (
        OrderStatus.AWAITING_PAYMENT,
        "ana.li@example.com",
    ), "Ana's abandoned checkout is a CS101 subject paired with her chat"
    assert first["checkout:33000000000002"].closed_at == utc("2025-03-01T01:58:00")

    # Poll 2 at 03:10:00 from the watermark poll 1 left: its start minus settle.
    clock.now = utc("2025-03-01T03:10:00")
    second = {o.id: o for o in await poller.poll(first_poll_start - SETTLE)}

    late = second["6004"]
    assert late.updated_at < first_poll_start, "written before poll 1, seen only by poll 2"
    assert late.status is OrderStatus.AWAITING_PAYMENT
    assert second["6001"].paid_at == utc("2025-03-01T03:05:00")
    assert second["6001"].seller_memo == "wrap in red"
    completed = second["checkout:33000000000001"]
    assert (completed.status, completed.closed_at) == (
        OrderStatus.CLOSED,
        utc("2025-03-01T03:06:00"),
    )
    assert paced == [pytest.approx(2.0)], "a bucket refilled over ten minutes needs no wait"
    assert recording.done, "every recorded answer was asked for"
    await source.aclose()
