"""Shopify orders: Link paging, the call-limit header, paid-at from transactions, conventions."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from connectors.base import SourceConfig
from connectors.errors import AuthFailed, BadResponse, RateLimited
from connectors.model import Order, OrderStatus, Stream
from connectors.registry import OptionError, lookup
from connectors.shopify.client import CallLimit, ShopifyClient
from connectors.shopify.normalize import BuyerKey, MemoSource, ShopifyRules
from connectors.shopify.source import ShopifyOrderSource
from daemon.config.toml_table import ConfigError
from tests.connectors.support import FIXTURES, load_fixture, read_options, utc

SHOP = "https://demo.myshopify.com"
API = f"{SHOP}/admin/api/2025-07"
ORDERS = f"{API}/orders.json"
SINCE = utc("2025-03-01T01:00:00")
NEXT_LINK = f'<{ORDERS}?limit=250&page_info=eyJsYXN0X2lkIjo1NTUxMjM0NTY3ODkxfQ>; rel="next"'
TAGS_RULES = ShopifyRules(
    memo_source=MemoSource.TAGS,
    memo_tag_prefix="memo:",
    flag_tag="flagged",
    message_attributes=("delivery_date",),
)


def fixture(name: str) -> Any:
    return load_fixture("shopify", name)


def transactions(request: httpx.Request) -> httpx.Response:
    """The order's recorded transactions; an order without a fixture has none."""
    name = f"transactions_{request.url.path.split('/')[-2]}.json"
    body = fixture(name) if (FIXTURES / "shopify" / name).exists() else {"transactions": []}
    return httpx.Response(200, json=body, headers={"X-Shopify-Shop-Api-Call-Limit": "36/40"})


@pytest.fixture
def shop() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.get(url__regex=rf"{API}/orders/\d+/transactions\.json").mock(
            side_effect=transactions
        )
        yield router


def two_pages(request: httpx.Request) -> httpx.Response:
    if "page_info" in request.url.params:
        return httpx.Response(
            200,
            json=fixture("orders_page2.json"),
            headers={"X-Shopify-Shop-Api-Call-Limit": "9/40"},
        )
    return httpx.Response(
        200,
        json=fixture("orders_page1.json"),
        headers={"Link": NEXT_LINK, "X-Shopify-Shop-Api-Call-Limit": "35/40"},
    )


def make_source(rules: ShopifyRules = TAGS_RULES) -> ShopifyOrderSource:
    client = ShopifyClient(base_url=SHOP, api_version="2025-07", token=lambda: "shpat_demo")
    return ShopifyOrderSource(client=client, rules=rules, page_size=500)


async def read_all(source: ShopifyOrderSource) -> dict[str, Order]:
    orders: dict[str, Order] = {}
    token: str | None = None
    while True:
        page = await source.fetch_orders(SINCE, token)
        orders.update((o.id, o) for o in page.items)
        if page.next_page_token is None:
            return orders
        token = page.next_page_token


async def test_pages_follow_the_link_header(shop: respx.MockRouter) -> None:
    route = shop.get(ORDERS).mock(side_effect=two_pages)

    orders = await read_all(make_source())

    assert sorted(orders) == ["5551234567890", "5551234567891", "5551234567892"]
    first, second = (call.request for call in route.calls)
    assert dict(first.url.params) == {
        "limit": "250",
        "status": "any",
        "updated_at_min": "2025-03-01T01:00:00Z",
        "order": "updated_at asc",
    }
    assert first.headers["X-Shopify-Access-Token"] == "shpat_demo"
    # A page_info request may carry only limit (and fields): the filters live in the cursor.
    assert dict(second.url.params) == {
        "limit": "250",
        "page_info": "eyJsYXN0X2lkIjo1NTUxMjM0NTY3ODkxfQ",
    }


async def test_updated_at_min_is_sent_in_whole_seconds_rounded_down(
    shop: respx.MockRouter,
) -> None:
    route = shop.get(ORDERS).mock(return_value=httpx.Response(200, json={"orders": []}))
    await make_source().fetch_orders(utc("2025-03-01T01:00:00.987654"), None)
    assert route.calls.last.request.url.params["updated_at_min"] == "2025-03-01T01:00:00Z"


async def test_the_call_limit_is_exposed_not_acted_on(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(side_effect=two_pages)
    source = make_source()

    page = await source.fetch_orders(SINCE, None)

    assert len(page.items) == 2, "near the limit the page is still served"
    assert source.call_limit == CallLimit(used=36, size=40), "the latest response's bucket"
    assert source.call_limit.near_full
    assert not CallLimit(used=3, size=40).near_full
    assert CallLimit.parse(" 3 / 40 ") == CallLimit(used=3, size=40)
    assert CallLimit.parse("garbage") is None


async def test_the_call_limit_of_the_latest_response_is_kept(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(side_effect=two_pages)
    source = make_source()
    first = await source.fetch_orders(SINCE, None)
    await source.fetch_orders(SINCE, first.next_page_token)
    assert source.call_limit == CallLimit(used=9, size=40)


async def test_429_is_rate_limited_with_retry_after(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(return_value=httpx.Response(429, headers={"Retry-After": "2.0"}))
    with pytest.raises(RateLimited) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.retry_after == 2.0


async def test_a_refused_token_is_auth_failed(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(return_value=httpx.Response(401, json={"errors": "Unauthorized"}))
    with pytest.raises(AuthFailed):
        await make_source().fetch_orders(SINCE, None)


async def test_every_field_the_rules_use_is_normalized(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(side_effect=two_pages)

    orders = await read_all(make_source())

    pending = orders["5551234567890"]
    assert pending.status is OrderStatus.AWAITING_PAYMENT
    assert pending.buyer_id == "ana.li@example.com"
    assert pending.created_at == utc("2025-03-01T02:15:00")
    assert pending.updated_at == utc("2025-03-01T02:15:03")
    assert (pending.paid_at, pending.closed_at) == (None, None)
    assert pending.buyer_message == (
        "Please gift-wrap, no invoice in the box\ndelivery_date: 2025-03-05"
    ), "the note plus the configured attributes, not utm_source"
    assert (pending.seller_memo, pending.seller_flag) == (None, 0)
    assert (pending.amount, pending.currency) == (Decimal("59.00"), "CNY")

    paid = orders["5551234567891"]
    assert paid.status is OrderStatus.PAID
    assert paid.paid_at == utc("2025-03-01T01:05:00"), "the earliest successful sale"
    assert paid.buyer_message == "Call before delivery"
    assert paid.seller_memo == "Confirmed by phone; leave at gate", "prefix matched in any case"
    assert paid.seller_flag == 1

    cancelled = orders["5551234567892"]
    assert cancelled.status is OrderStatus.CLOSED
    assert cancelled.closed_at == utc("2025-03-01T03:00:00")
    assert cancelled.buyer_id == "shopify:order:5551234567892", "no customer: never pairs"
    assert cancelled.paid_at is None


async def test_transactions_are_read_once_per_paid_order(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(side_effect=two_pages)
    source = make_source()
    await read_all(source)
    await read_all(source)
    transactions = [c for c in shop.calls if c.request.url.path.endswith("transactions.json")]
    assert len(transactions) == 1


def order_with(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(fixture("orders_page1.json")["orders"][0])
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"financial_status": "pending"}, OrderStatus.AWAITING_PAYMENT),
        ({"financial_status": "authorized"}, OrderStatus.PAID),
        ({"financial_status": "partially_paid"}, OrderStatus.PAID),
        ({"financial_status": "paid", "fulfillment_status": "partial"}, OrderStatus.SHIPPED),
        ({"financial_status": "paid", "fulfillment_status": "fulfilled"}, OrderStatus.SHIPPED),
        (
            {
                "financial_status": "paid",
                "fulfillment_status": "fulfilled",
                "closed_at": "2025-03-03T10:00:00+08:00",
            },
            OrderStatus.COMPLETED,
        ),
        ({"financial_status": "refunded"}, OrderStatus.CLOSED),
        ({"financial_status": "voided"}, OrderStatus.CLOSED),
        (
            {"financial_status": "paid", "cancelled_at": "2025-03-01T11:00:00+08:00"},
            OrderStatus.CLOSED,
        ),
    ],
)
async def test_status_is_derived_from_payment_cancellation_and_fulfilment(
    shop: respx.MockRouter, changes: dict[str, Any], status: OrderStatus
) -> None:
    body = {"orders": [order_with(**changes)]}
    shop.get(ORDERS).mock(return_value=httpx.Response(200, json=body))
    page = await make_source().fetch_orders(SINCE, None)
    assert page.items[0].status is status


@pytest.mark.parametrize(
    ("rules", "buyer_id", "memo", "flag"),
    [
        (
            ShopifyRules(memo_source=MemoSource.NOTE_ATTRIBUTES, memo_attribute="utm_source"),
            "ana.li@example.com",
            "newsletter",
            0,
        ),
        (
            ShopifyRules(
                memo_source=MemoSource.TAGS, memo_tag_prefix="x:", buyer_key=BuyerKey.CUSTOMER_ID
            ),
            "7001234567890",
            None,
            0,
        ),
        (
            ShopifyRules(
                memo_source=MemoSource.TAGS,
                memo_tag_prefix="x:",
                buyer_key=BuyerKey.PHONE,
                flag_tag="VIP",
            ),
            "tel:8613800000000",
            None,
            1,
        ),
    ],
)
async def test_memo_flag_and_buyer_follow_the_configured_convention(
    shop: respx.MockRouter, rules: ShopifyRules, buyer_id: str, memo: str | None, flag: int
) -> None:
    shop.get(ORDERS).mock(return_value=httpx.Response(200, json={"orders": [order_with()]}))
    (order,) = (await make_source(rules).fetch_orders(SINCE, None)).items
    assert (order.buyer_id, order.seller_memo, order.seller_flag) == (buyer_id, memo, flag)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.update(financial_status="pending_review"), "orders[0].financial_status"),
        (lambda o: o.pop("updated_at"), "orders[0].updated_at"),
        (lambda o: o.update(created_at="2025-03-01 10:15:00"), "orders[0].created_at"),
        (lambda o: o.update(id="5551234567890"), "orders[0].id"),
        (lambda o: o.update(total_price=59), "orders[0].total_price"),
        (lambda o: o.update(note_attributes=[{"value": "x"}]), "orders[0].note_attributes[0].name"),
    ],
)
async def test_schema_drift_rejects_the_page_naming_the_field(
    shop: respx.MockRouter, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    raw = order_with()
    change(raw)
    shop.get(ORDERS).mock(return_value=httpx.Response(200, json={"orders": [raw]}))
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == field


async def test_a_next_link_without_a_cursor_is_drift(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(
        return_value=httpx.Response(
            200, json={"orders": []}, headers={"Link": f'<{ORDERS}?page=2>; rel="next"'}
        )
    )
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == "Link"


# ---- options ------------------------------------------------------------------------------

VALID = {"api_version": "2025-07", "memo_source": "tags", "memo_tag_prefix": "memo:"}


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ({"memo_source": "tags", "memo_tag_prefix": "m:"}, "api_version", 'e.g. "2025-07"'),
        ({"api_version": "2025-07"}, "memo_source", "Shopify orders have no seller memo"),
        ({**VALID, "memo_source": "metafields"}, "memo_source", '"note_attributes"'),
        ({"api_version": "2025-07", "memo_source": "tags"}, "memo_tag_prefix", "required"),
        (
            {"api_version": "2025-07", "memo_source": "note_attributes"},
            "memo_attribute",
            "required",
        ),
        ({**VALID, "memo_attribute": "memo"}, "memo_attribute", 'only to memo_source = "note'),
        ({**VALID, "buyer_key": "nick"}, "buyer_key", '"customer_id"'),
        ({**VALID, "message_attributes": "delivery_date"}, "message_attributes", "list"),
        ({**VALID, "memo": "x"}, "memo", "unknown key"),
    ],
)
def test_bad_options_say_what_to_do(extra: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_options("shopify", Stream.ORDERS, extra)
    assert caught.value.key == key
    assert says in caught.value.message


def test_shopify_cannot_serve_chat_and_says_what_to_pair_it_with() -> None:
    with pytest.raises(OptionError, match='kind = "chatwoot"'):
        lookup("shopify", Stream.CHAT)


async def test_the_registry_builds_a_source_calling_the_configured_version(
    shop: respx.MockRouter,
) -> None:
    route = shop.get(ORDERS).mock(return_value=httpx.Response(200, json={"orders": []}))
    config = SourceConfig(
        kind="shopify", base_url=SHOP + "/", token=lambda: "shpat_x", timeout=5.0,
        page_size=50, options=read_options("shopify", Stream.ORDERS, VALID),
    )  # fmt: skip
    source = lookup("shopify", Stream.ORDERS).build(config, Stream.ORDERS)
    assert isinstance(source, ShopifyOrderSource)
    page = await source.fetch_orders(SINCE, None)
    assert page.next_page_token is None
    assert route.calls.last.request.url.params["limit"] == "50"
    await source.aclose()
