"""The generic shop API client (SPEC §5) against respx: one attempt, errors mapped, strict."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import respx

from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable
from connectors.generic import normalize
from connectors.generic.client import GenericShopClient
from connectors.model import Direction, OrderStatus, PresenceStatus

BASE = "https://shop.test/api"
SINCE = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def order(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": "o-1",
        "buyer_id": "b-1",
        "status": "awaiting_payment",
        "created_at": "2026-11-02T10:00:00+08:00",
        "updated_at": "2026-11-02T10:00:00+08:00",
        "paid_at": None,
        "closed_at": None,
        "buyer_message": None,
        "seller_memo": None,
        "seller_flag": 0,
        "amount": "99.50",
        "currency": "CNY",
    }
    raw.update(overrides)
    return raw


def message(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": "m-1",
        "conversation_id": "c-1",
        "buyer_id": "b-1",
        "direction": "agent",
        "agent_id": "a1",
        "is_auto": False,
        "sent_at": "2026-11-02T02:30:00Z",
        "text": "亲，还在吗？",
    }
    raw.update(overrides)
    return raw


@pytest.fixture
async def client() -> GenericShopClient:
    c = GenericShopClient(base_url=BASE + "/", token=lambda: "s3cret", page_size=2)
    yield c  # type: ignore[misc]
    await c.aclose()


@respx.mock
async def test_orders_page_sends_inclusive_since_limit_token_and_bearer(
    client: GenericShopClient,
) -> None:
    route = respx.get(f"{BASE}/orders").respond(json={"orders": [order()], "next_page_token": "p2"})
    page = await client.fetch_orders(SINCE, "p1")
    request = route.calls.last.request
    assert request.url.params["updated_since"] == "2026-11-02T02:00:00Z"
    assert request.url.params["limit"] == "2"
    assert request.url.params["page_token"] == "p1"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert page.next_page_token == "p2"
    (o,) = page.items
    assert o.status is OrderStatus.AWAITING_PAYMENT
    assert o.created_at == datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert o.amount == Decimal("99.50") and o.paid_at is None and o.seller_flag == 0


@respx.mock
async def test_messages_and_presence_normalize(client: GenericShopClient) -> None:
    respx.get(f"{BASE}/messages").respond(
        json={
            "messages": [message(), message(id="m-2", direction="buyer", agent_id=None)],
            "next_page_token": None,
        }
    )
    respx.get(f"{BASE}/agents").respond(
        json={
            "agents": [
                {
                    "id": "a1",
                    "name": "Li",
                    "status": "away",
                    "status_since": "2026-11-02T09:00:00+08:00",
                }
            ]
        }
    )
    page = await client.fetch_messages(SINCE, None)
    assert [m.direction for m in page.items] == [Direction.AGENT, Direction.BUYER]
    assert page.items[0].is_agent_message and not page.items[1].is_agent_message
    assert page.next_page_token is None
    (presence,) = await client.fetch_presence() or []
    assert presence.status is PresenceStatus.AWAY
    assert presence.since == datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


@respx.mock
async def test_agents_404_means_presence_not_reported(client: GenericShopClient) -> None:
    route = respx.get(f"{BASE}/agents").respond(404)
    assert await client.fetch_presence() is None
    assert await client.fetch_presence() is None
    assert route.call_count == 1  # remembered: not asked again


@pytest.mark.parametrize("status", [401, 403])
@respx.mock
async def test_refused_credentials_are_auth_failures(
    client: GenericShopClient, status: int
) -> None:
    respx.get(f"{BASE}/orders").respond(status)
    with pytest.raises(AuthFailed):
        await client.fetch_orders(SINCE, None)


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [(429, "7", 7.0), (503, "Wed, 21 Oct 2099 07:28:00 GMT", None), (503, None, None)],
)
@respx.mock
async def test_throttling_honours_retry_after(
    client: GenericShopClient, status: int, header: str | None, expected: float | None
) -> None:
    headers = {"Retry-After": header} if header else {}
    respx.get(f"{BASE}/orders").respond(status, headers=headers)
    with pytest.raises(RateLimited) as caught:
        await client.fetch_orders(SINCE, None)
    if header and expected is not None:
        assert caught.value.retry_after == expected
    elif header:
        assert caught.value.retry_after is not None and caught.value.retry_after > 3600
    else:
        assert caught.value.retry_after is None


@respx.mock
async def test_server_errors_and_timeouts_are_unavailable(client: GenericShopClient) -> None:
    respx.get(f"{BASE}/orders").mock(
        side_effect=[httpx.Response(500), httpx.ConnectTimeout("slow"), httpx.ConnectError("x")]
    )
    for _ in range(3):
        with pytest.raises(Unavailable) as caught:
            await client.fetch_orders(SINCE, None)
        assert not isinstance(caught.value, RateLimited)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"orders": [order(paid_at="yesterday")], "next_page_token": None}, "orders[0].paid_at"),
        (
            {"orders": [order(), order(status="refunded")], "next_page_token": None},
            "orders[1].status",
        ),
        (
            {"orders": [order(created_at="2026-11-02T10:00:00")], "next_page_token": None},
            "orders[0].created_at",
        ),
        ({"orders": [order(seller_flag=9)], "next_page_token": None}, "orders[0].seller_flag"),
        ({"orders": [order(amount=99.5)], "next_page_token": None}, "orders[0].amount"),
        # Longer than the store's columns: refused here on every database, not by
        # PostgreSQL at the write as a storage fault (SQLite would keep it).
        ({"orders": [order(id="o" * 129)], "next_page_token": None}, "orders[0].id"),
        ({"orders": [order(buyer_id="b" * 129)], "next_page_token": None}, "orders[0].buyer_id"),
        ({"orders": [order(currency="RENMINBI1")], "next_page_token": None}, "orders[0].currency"),
        (
            {
                "orders": [{k: v for k, v in order().items() if k != "paid_at"}],
                "next_page_token": None,
            },
            "orders[0].paid_at",
        ),
        ({"next_page_token": None}, "orders"),
        ({"orders": []}, "body.next_page_token"),
    ],
)
@respx.mock
async def test_a_page_that_drifts_is_rejected_naming_the_field(
    client: GenericShopClient, body: dict[str, object], field: str
) -> None:
    respx.get(f"{BASE}/orders").respond(json=body)
    with pytest.raises(BadResponse) as caught:
        await client.fetch_orders(SINCE, None)
    assert caught.value.field == field


def test_presence_ids_longer_than_the_store_keeps_are_refused_naming_the_field() -> None:
    """Samples and events as the orders and messages: a 129-character id is a bad record
    here on every database, not a failed write on PostgreSQL (SQLite would keep it)."""
    sample = {"id": "a" * 129, "status": "online", "status_since": "2026-11-02T10:00:00Z"}
    with pytest.raises(BadResponse) as caught:
        normalize.agents({"agents": [sample]})
    assert caught.value.field == "agents[0].id"
    event = {"id": "e1", "agent_id": "a1", "status": "online", "at": "2026-11-02T10:00:00Z"}
    for key in ("id", "agent_id"):
        with pytest.raises(BadResponse) as caught:
            normalize.presence_page(
                {"events": [{**event, key: "x" * 129}], "next_page_token": None}
            )
        assert caught.value.field == f"events[0].{key}"
    assert normalize.presence_page({"events": [event], "next_page_token": None}).items


@respx.mock
async def test_a_body_that_is_not_json_is_rejected(client: GenericShopClient) -> None:
    respx.get(f"{BASE}/messages").respond(200, text="<html>maintenance</html>")
    with pytest.raises(BadResponse):
        await client.fetch_messages(SINCE, None)


@respx.mock
async def test_an_empty_page_token_ends_paging_like_null(client: GenericShopClient) -> None:
    respx.get(f"{BASE}/orders").respond(json={"orders": [], "next_page_token": ""})
    assert (await client.fetch_orders(SINCE, None)).next_page_token is None
