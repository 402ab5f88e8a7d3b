"""Shopify on the GraphQL Admin API: paging, statuses, conventions, buyer identity,
abandoned checkouts, the error tree, cost-bucket pacing, options and the API version."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
import structlog

from connectors.base import SourceConfig
from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable
from connectors.model import Order, OrderStatus, Stream
from connectors.registry import OptionError, lookup
from connectors.shopify import queries, versions
from connectors.shopify.client import ShopifyClient
from connectors.shopify.normalize import BuyerKey, MemoSource, ShopifyRules
from connectors.shopify.source import ShopifyOrderSource
from daemon.config.toml_table import ConfigError
from tests.connectors.replay import Replay, poll
from tests.connectors.support import FixedClock, load_fixture, read_options, utc

SHOP = "https://demo.myshopify.com"
GRAPHQL = f"{SHOP}/admin/api/{versions.PINNED}/graphql.json"
SINCE = utc("2025-03-01T01:00:00")
NOW = utc("2025-03-01T03:00:00")
TAGS_RULES = ShopifyRules(
    memo_source=MemoSource.TAGS,
    memo_tag_prefix="memo:",
    flag_tag="flagged",
    message_attributes=("delivery_date",),
)
EMPTY_CHECKOUTS = {
    "data": {
        "abandonedCheckouts": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}
    }
}


def fixture(name: str) -> Any:
    return load_fixture("shopify", name)


def sent(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def operation(request: httpx.Request) -> str:
    return str(sent(request)["query"]).split("(")[0].removeprefix("query ")


def answer(body: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


class Shop:
    """A store that answers by operation: orders page by page, then the checkouts."""

    def __init__(self, *orders_pages: Any, checkouts: Any = EMPTY_CHECKOUTS) -> None:
        self.orders_pages = list(orders_pages) or [
            fixture("orders_page1.json"),
            fixture("orders_page2.json"),
        ]
        self.checkouts = checkouts

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if operation(request) == queries.CHECKOUTS:
            return answer(self.checkouts)
        after = sent(request)["variables"]["after"]
        return answer(self.orders_pages[0] if after is None else self.orders_pages[1])


@pytest.fixture
def shop() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


class Sleeps:
    """The injected sleep: records each wait and moves the clock on by it."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += timedelta(seconds=seconds)


def make_source(
    rules: ShopifyRules = TAGS_RULES,
    *,
    clock: FixedClock | None = None,
    sleeps: Sleeps | None = None,
    **options: Any,
) -> ShopifyOrderSource:
    clock = clock or FixedClock(NOW)
    client = ShopifyClient(base_url=SHOP, api_version=versions.PINNED, token=lambda: "shpat_demo")
    return ShopifyOrderSource(
        client=client, rules=rules, page_size=500, clock=clock,
        sleep=sleeps or Sleeps(clock), **options,
    )  # fmt: skip


async def read_all(source: ShopifyOrderSource, since: Any = SINCE) -> dict[str, Order]:
    orders: dict[str, Order] = {}
    token: str | None = None
    while True:
        page = await source.fetch_orders(since, token)
        orders.update((o.id, o) for o in page.items)
        if page.next_page_token is None:
            return orders
        token = page.next_page_token


# ---- paging ---------------------------------------------------------------------------------


async def test_orders_then_checkouts_are_read_by_cursor(shop: respx.MockRouter) -> None:
    route = shop.post(GRAPHQL).mock(side_effect=Shop(checkouts=fixture("checkouts_page1.json")))

    orders = await read_all(make_source())

    assert sorted(orders) == [
        "5551234567890", "5551234567891", "5551234567892",
        "checkout:33000000000001", "checkout:33000000000002",
    ]  # fmt: skip
    first, second, third = (call.request for call in route.calls)
    assert first.headers["X-Shopify-Access-Token"] == "shpat_demo"
    assert operation(first) == queries.ORDERS
    assert "sortKey: UPDATED_AT" in sent(first)["query"]
    assert sent(first)["variables"] == {
        "first": 50,  # page_size 500 is capped: a page must stay within one query's cost limit
        "after": None,
        "query": "updated_at:>='2025-03-01T01:00:00Z'",
    }
    assert sent(second)["variables"]["after"] == "eyJsYXN0X2lkIjo1NTUxMjM0NTY3ODkxfQ=="
    assert sent(second)["variables"]["query"] == sent(first)["variables"]["query"]
    assert operation(third) == queries.CHECKOUTS
    assert sent(third)["variables"] == {
        "first": 50,
        "after": None,
        "query": "updated_at:>='2025-03-01T00:00:00Z'",  # an hour behind: checkout_lookback
    }


async def test_the_bound_is_sent_in_whole_seconds_rounded_down(shop: respx.MockRouter) -> None:
    route = shop.post(GRAPHQL).mock(side_effect=Shop())
    await make_source().fetch_orders(utc("2025-03-01T01:00:00.987654"), None)
    query = sent(route.calls.last.request)["variables"]["query"]
    assert query == "updated_at:>='2025-03-01T01:00:00Z'"


async def test_checkouts_can_be_left_out(shop: respx.MockRouter) -> None:
    route = shop.post(GRAPHQL).mock(side_effect=Shop())
    orders = await read_all(make_source(abandoned_checkouts=False))
    assert not any(order_id.startswith("checkout:") for order_id in orders)
    assert [operation(c.request) for c in route.calls] == [queries.ORDERS, queries.ORDERS]


async def test_a_page_is_sorted_by_update(shop: respx.MockRouter) -> None:
    body = fixture("orders_page1.json")
    body["data"]["orders"]["nodes"].reverse()
    shop.post(GRAPHQL).mock(side_effect=Shop(body, fixture("orders_page2.json")))
    page = await make_source().fetch_orders(SINCE, None)
    assert [o.updated_at for o in page.items] == sorted(o.updated_at for o in page.items)


async def test_a_token_the_source_did_not_issue_is_refused(shop: respx.MockRouter) -> None:
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, "bm90IGEgdG9rZW4=")
    assert caught.value.field == "page_token"


async def test_has_next_page_without_a_cursor_is_drift(shop: respx.MockRouter) -> None:
    body = fixture("orders_page2.json")
    body["data"]["orders"]["pageInfo"] = {"hasNextPage": True, "endCursor": None}
    shop.post(GRAPHQL).mock(return_value=answer(body))
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == "orders.pageInfo.endCursor"


# ---- what an order and a checkout become ----------------------------------------------------


async def test_every_field_the_rules_use_is_normalized(shop: respx.MockRouter) -> None:
    shop.post(GRAPHQL).mock(side_effect=Shop(checkouts=fixture("checkouts_page1.json")))

    orders = await read_all(make_source())

    pending = orders["5551234567890"]
    assert pending.status is OrderStatus.AWAITING_PAYMENT
    assert (pending.buyer_id, pending.buyer_identified) == ("ana.li@example.com", True)
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
    assert cancelled.paid_at is None, "a voided authorization is no payment"
    assert cancelled.buyer_id == "shopify:order:5551234567892", "no customer: never pairs"
    assert not cancelled.buyer_identified

    open_checkout = orders["checkout:33000000000001"]
    assert open_checkout.status is OrderStatus.AWAITING_PAYMENT
    assert (open_checkout.buyer_id, open_checkout.buyer_identified) == ("ana.li@example.com", True)
    assert open_checkout.created_at == utc("2025-03-01T02:40:00")
    assert (open_checkout.paid_at, open_checkout.closed_at) == (None, None)
    assert (open_checkout.amount, open_checkout.currency) == (Decimal("89.9"), "CNY")

    recovered = orders["checkout:33000000000002"]
    assert recovered.status is OrderStatus.CLOSED
    assert recovered.closed_at == utc("2025-03-01T01:58:00"), "closed when completed"
    assert recovered.buyer_id == "shopify:checkout:33000000000002"


def order_with(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(fixture("orders_page1.json")["data"]["orders"]["nodes"][0])
    raw.update(changes)
    return raw


def one_page(*nodes: Any) -> dict[str, Any]:
    connection = {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": list(nodes)}
    return {"data": {"orders": connection}}


SALE = [
    {"kind": "SALE", "status": "SUCCESS", "processedAt": None, "createdAt": "2025-03-01T02:16:00Z"}
]


@pytest.mark.parametrize(
    ("changes", "status", "paid"),
    [
        ({"displayFinancialStatus": "PENDING"}, OrderStatus.AWAITING_PAYMENT, False),
        ({"displayFinancialStatus": "AUTHORIZED"}, OrderStatus.PAID, True),
        ({"displayFinancialStatus": "PARTIALLY_PAID"}, OrderStatus.PAID, True),
        ({"displayFinancialStatus": None}, OrderStatus.PAID, True),
        (
            {"displayFinancialStatus": "PAID", "displayFulfillmentStatus": "PARTIALLY_FULFILLED"},
            OrderStatus.SHIPPED,
            True,
        ),
        (
            {"displayFinancialStatus": "PAID", "displayFulfillmentStatus": "FULFILLED"},
            OrderStatus.SHIPPED,
            True,
        ),
        (
            {
                "displayFinancialStatus": "PAID",
                "displayFulfillmentStatus": "FULFILLED",
                "closedAt": "2025-03-03T02:00:00Z",
            },
            OrderStatus.COMPLETED,
            True,
        ),
        (
            {"displayFinancialStatus": "PAID", "displayFulfillmentStatus": "ON_HOLD"},
            OrderStatus.PAID,
            True,
        ),
        ({"displayFinancialStatus": "REFUNDED"}, OrderStatus.CLOSED, True),
        ({"displayFinancialStatus": "VOIDED"}, OrderStatus.CLOSED, False),
        ({"displayFinancialStatus": "EXPIRED"}, OrderStatus.CLOSED, False),
        (
            {"displayFinancialStatus": "PAID", "cancelledAt": "2025-03-01T03:00:00Z"},
            OrderStatus.CLOSED,
            True,
        ),
    ],
)
async def test_status_is_derived_from_payment_cancellation_and_fulfilment(
    shop: respx.MockRouter, changes: dict[str, Any], status: OrderStatus, paid: bool
) -> None:
    shop.post(GRAPHQL).mock(return_value=answer(one_page(order_with(transactions=SALE, **changes))))
    (order,) = (await make_source(abandoned_checkouts=False).fetch_orders(SINCE, None)).items
    assert order.status is status
    assert order.paid_at == (utc("2025-03-01T02:16:00") if paid else None)


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
    shop.post(GRAPHQL).mock(return_value=answer(one_page(order_with())))
    (order,) = (await make_source(rules).fetch_orders(SINCE, None)).items
    assert (order.buyer_id, order.seller_memo, order.seller_flag) == (buyer_id, memo, flag)
    assert order.buyer_identified


def test_the_documents_ask_only_for_the_configured_contact() -> None:
    by_id = queries.orders(BuyerKey.CUSTOMER_ID) + queries.abandoned_checkouts(BuyerKey.CUSTOMER_ID)
    assert "email" not in by_id.lower() and "phone" not in by_id.lower()
    assert "phone" not in queries.orders(BuyerKey.EMAIL).lower()
    assert "email" not in queries.orders(BuyerKey.PHONE).lower()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda o: o.update(displayFinancialStatus="PENDING_REVIEW"),
            "orders.nodes[0].displayFinancialStatus",
        ),
        (lambda o: o.pop("updatedAt"), "orders.nodes[0].updatedAt"),
        (lambda o: o.update(createdAt="2025-03-01 10:15:00"), "orders.nodes[0].createdAt"),
        (
            lambda o: o.update(legacyResourceId="gid://shopify/Order/1"),
            "orders.nodes[0].legacyResourceId",
        ),
        (
            lambda o: o.update(totalPriceSet={"shopMoney": {"amount": 59, "currencyCode": "CNY"}}),
            "orders.nodes[0].totalPriceSet.shopMoney.amount",
        ),
        (
            lambda o: o.update(customAttributes=[{"value": "x"}]),
            "orders.nodes[0].customAttributes[0].key",
        ),
        (lambda o: o.update(tags="vip, memo:x"), "orders.nodes[0].tags"),
    ],
)
async def test_a_malformed_order_is_refused_alone_naming_the_field(
    shop: respx.MockRouter, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    raw = order_with()
    change(raw)
    sound = order_with(legacyResourceId="5551234567999")
    shop.post(GRAPHQL).mock(return_value=answer(one_page(raw, sound)))
    page = await make_source().fetch_orders(SINCE, None)
    assert [order.id for order in page.items] == ["5551234567999"], "the rest is kept"
    (refused,) = page.rejected
    assert refused.field == field
    assert refused.reason == field.removeprefix("orders.nodes[0].").replace("[0]", "")
    assert refused.key == (None if "legacyResourceId" in field else raw["legacyResourceId"])
    assert refused.buyer == (None if "legacyResourceId" in field else "ana.li@example.com")


async def test_an_unknown_financial_status_refuses_that_order_and_names_the_known_ones(
    shop: respx.MockRouter,
) -> None:
    """Issue 17: a value another api_version has must not stall the whole stream."""
    pages = [
        one_page(
            order_with(legacyResourceId="1", displayFinancialStatus="PAID"),
            order_with(legacyResourceId="2", displayFinancialStatus="PENDING_REVIEW"),
            order_with(legacyResourceId="3", displayFinancialStatus="PENDING"),
        )
    ]
    shop.post(GRAPHQL).mock(side_effect=Shop(*pages))
    page = await make_source().fetch_orders(SINCE, None)
    assert sorted(order.id for order in page.items) == ["1", "3"]
    assert page.next_page_token is not None, "paging goes on: the checkouts follow"
    (refused,) = page.rejected
    assert (refused.field, refused.reason, refused.key) == (
        "orders.nodes[1].displayFinancialStatus",
        "displayFinancialStatus",
        "2",
    )
    assert refused.error.startswith("'PENDING_REVIEW' is not one of AUTHORIZED, EXPIRED")
    assert "example.com" not in refused.error


async def test_a_connection_that_does_not_read_still_fails_the_page(
    shop: respx.MockRouter,
) -> None:
    body = one_page(order_with())
    del body["data"]["orders"]["pageInfo"]
    shop.post(GRAPHQL).mock(return_value=answer(body))
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == "orders.pageInfo"


async def test_a_checkout_id_of_another_kind_is_refused_without_a_key(
    shop: respx.MockRouter,
) -> None:
    body = fixture("checkouts_page1.json")
    body["data"]["abandonedCheckouts"]["nodes"][0]["id"] = "gid://shopify/Order/1"
    shop.post(GRAPHQL).mock(side_effect=Shop(checkouts=body))
    source = make_source()
    token: str | None = None
    refused = []
    while True:
        page = await source.fetch_orders(SINCE, token)
        refused.extend(page.rejected)
        if (token := page.next_page_token) is None:
            break
    assert [(r.field, r.reason, r.key) for r in refused] == [
        ("abandonedCheckouts.nodes[0].id", "id", None)
    ]


# ---- buyer identity without protected customer data -----------------------------------------


def without_contacts(body: Any, root: str = "orders") -> Any:
    """The page as an app without level-2 access gets it: contact fields null."""
    for node in body["data"][root]["nodes"]:
        if "email" in node:
            node["email"] = node["phone"] = None
        if node["customer"] is not None:
            node["customer"]["defaultEmailAddress"] = None
            node["customer"]["defaultPhoneNumber"] = None
    return body


async def test_a_page_with_no_identified_buyer_warns_once_per_listing(
    shop: respx.MockRouter,
) -> None:
    shop.post(GRAPHQL).mock(
        side_effect=Shop(
            without_contacts(fixture("orders_page1.json")),
            without_contacts(fixture("orders_page2.json")),
            checkouts=without_contacts(fixture("checkouts_page1.json"), "abandonedCheckouts"),
        )
    )
    source = make_source()
    with structlog.testing.capture_logs() as logs:
        orders = await read_all(source)
        await read_all(source)

    assert not any(order.buyer_identified for order in orders.values())
    assert orders["5551234567890"].buyer_id == "shopify:customer:7001234567890"
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [w["listing"] for w in warnings] == ["orders", "checkouts"], "once per listing"
    assert "protected customer data access (level 2)" in warnings[0]["detail"]
    assert "buyer_unidentified" in warnings[0]["detail"]
    assert 'buyer_key = "customer_id"' in warnings[0]["fix"]
    assert 'buyer_key = "identifier"' in warnings[0]["fix"]


async def test_a_page_with_one_identified_buyer_does_not_warn_and_recovery_is_said(
    shop: respx.MockRouter,
) -> None:
    hidden = without_contacts(fixture("orders_page2.json"))
    shop.post(GRAPHQL).mock(
        side_effect=[answer(hidden), answer(fixture("orders_page2.json")), answer(hidden)]
    )
    source = make_source(abandoned_checkouts=False)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            await source.fetch_orders(SINCE, None)
    assert [entry["event"] for entry in logs] == ["shopify buyers not identified"]

    mixed = fixture("orders_page1.json")
    mixed["data"]["orders"]["nodes"][0]["customer"]["defaultEmailAddress"] = None
    mixed["data"]["orders"]["nodes"][0]["email"] = None
    mixed["data"]["orders"]["pageInfo"]["hasNextPage"] = False
    shop.post(GRAPHQL).mock(return_value=answer(mixed))
    with structlog.testing.capture_logs() as logs:
        page = await source.fetch_orders(SINCE, None)
    assert [entry["event"] for entry in logs] == ["shopify buyers identified again"]
    assert [o.buyer_identified for o in page.items] == [False, True]


async def test_contact_fields_refused_with_access_denied_are_read_as_withheld(
    shop: respx.MockRouter,
) -> None:
    body = fixture("orders_page2.json")
    node = order_with(email=None)
    node["customer"] = None
    body["data"]["orders"]["nodes"] = [node]
    body["errors"] = [
        {
            "message": "This app is not approved to access the Customer object.",
            "path": ["orders", "nodes", 0, "customer"],
            "extensions": {"code": "ACCESS_DENIED"},
        }
    ]
    shop.post(GRAPHQL).mock(return_value=answer(body))
    with structlog.testing.capture_logs() as logs:
        (order,) = (await make_source().fetch_orders(SINCE, None)).items
    assert (order.buyer_id, order.buyer_identified) == ("shopify:order:5551234567890", False)
    assert logs[0]["withheld"] == ["orders.nodes.0.customer"]


# ---- the error tree -------------------------------------------------------------------------


async def test_throttled_is_rate_limited_until_the_bucket_holds_the_query(
    shop: respx.MockRouter,
) -> None:
    shop.post(GRAPHQL).mock(return_value=answer(fixture("throttled.json")))
    with pytest.raises(RateLimited) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.retry_after == pytest.approx(3.5), "(502 - 152) points at 100 a second"
    assert "THROTTLED" in str(caught.value)


@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(429, headers={"Retry-After": "2.0"}), 2.0),
        (answer(fixture("throttled.json"), 429), 3.5),
        (httpx.Response(429), None),
    ],
    ids=["retry-after", "cost-report", "nothing"],
)
async def test_http_429_is_rate_limited(
    shop: respx.MockRouter, response: httpx.Response, retry_after: float | None
) -> None:
    shop.post(GRAPHQL).mock(return_value=response)
    with pytest.raises(RateLimited) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.retry_after == (pytest.approx(retry_after) if retry_after else None)


def graphql_error(code: str | None, message: str, path: list[Any] | None = None) -> Any:
    error: dict[str, Any] = {"message": message}
    if code is not None:
        error["extensions"] = {"code": code}
    if path is not None:
        error["path"] = path
    return {"data": None, "errors": [error]}


@pytest.mark.parametrize(
    ("response", "error", "says"),
    [
        (
            httpx.Response(401, json={"errors": "[API] Invalid API key or access token"}),
            AuthFailed,
            "check the token file",
        ),
        (
            answer(graphql_error("ACCESS_DENIED", "Access denied for orders field.", ["orders"])),
            AuthFailed,
            "read_orders",
        ),
        (
            answer(graphql_error("MAX_COST_EXCEEDED", "Query cost is 1502, exceeds 1000")),
            BadResponse,
            "lower page_size",
        ),
        (
            answer(graphql_error("INTERNAL_SERVER_ERROR", "Internal error.")),
            Unavailable,
            "Internal",
        ),
        (
            answer(graphql_error("undefinedField", "Field 'x' doesn't exist on type 'Order'")),
            BadResponse,
            "doesn't exist",
        ),
        (httpx.Response(200, text="<html>maintenance</html>"), BadResponse, "not a JSON object"),
        (answer({"data": None}), BadResponse, "no data"),
        (httpx.Response(502), Unavailable, "HTTP 502"),
    ],
    ids=["401", "access-denied", "max-cost", "internal", "schema", "html", "no-data", "502"],
)
async def test_errors_map_onto_the_connector_error_tree(
    shop: respx.MockRouter, response: httpx.Response, error: type[Exception], says: str
) -> None:
    shop.post(GRAPHQL).mock(return_value=response)
    with pytest.raises(error) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert type(caught.value) is error
    assert says in str(caught.value)


async def test_a_network_failure_is_unavailable(shop: respx.MockRouter) -> None:
    shop.post(GRAPHQL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(Unavailable):
        await make_source().fetch_orders(SINCE, None)


# ---- pacing on the cost bucket --------------------------------------------------------------


def with_bucket(body: Any, available: float, requested: float = 502) -> Any:
    cost = body["extensions"]["cost"]
    cost["requestedQueryCost"] = requested
    cost["throttleStatus"]["currentlyAvailable"] = available
    return body


async def test_the_next_query_waits_until_the_bucket_holds_its_cost(
    shop: respx.MockRouter,
) -> None:
    page1 = with_bucket(fixture("orders_page1.json"), available=302)
    route = shop.post(GRAPHQL).mock(side_effect=Shop(page1, fixture("orders_page2.json")))
    clock = FixedClock(NOW)
    sleeps = Sleeps(clock)
    source = make_source(clock=clock, sleeps=sleeps, abandoned_checkouts=False)

    first = await source.fetch_orders(SINCE, None)
    clock.now += timedelta(seconds=0.5)  # the poller stored the page meanwhile
    await source.fetch_orders(SINCE, first.next_page_token)

    assert sleeps.waits == [pytest.approx(1.5)], "(502 - 302) / 100 s, less the 0.5 s passed"
    assert len(route.calls) == 2
    assert source.bucket is not None and source.bucket.cost.available == 1992


async def test_a_bucket_with_room_costs_no_wait(shop: respx.MockRouter) -> None:
    shop.post(GRAPHQL).mock(side_effect=Shop())
    sleeps = Sleeps(FixedClock(NOW))
    await read_all(make_source(sleeps=sleeps))
    assert sleeps.waits == []


async def test_a_wait_longer_than_max_pace_goes_back_to_the_poller_unsent(
    shop: respx.MockRouter,
) -> None:
    page1 = with_bucket(fixture("orders_page1.json"), available=0, requested=1000)
    route = shop.post(GRAPHQL).mock(side_effect=Shop(page1, fixture("orders_page2.json")))
    sleeps = Sleeps(FixedClock(NOW))
    source = make_source(sleeps=sleeps, max_pace=5.0)
    first = await source.fetch_orders(SINCE, None)

    with pytest.raises(RateLimited) as caught:
        await source.fetch_orders(SINCE, first.next_page_token)

    assert caught.value.retry_after == pytest.approx(10.0)
    assert "not sent" in str(caught.value)
    assert len(route.calls) == 1 and sleeps.waits == []


async def test_a_query_bigger_than_the_bucket_names_page_size(shop: respx.MockRouter) -> None:
    page1 = with_bucket(fixture("orders_page1.json"), available=2000, requested=2500)
    shop.post(GRAPHQL).mock(side_effect=Shop(page1, fixture("orders_page2.json")))
    source = make_source()
    first = await source.fetch_orders(SINCE, None)
    with pytest.raises(BadResponse) as caught:
        await source.fetch_orders(SINCE, first.next_page_token)
    assert caught.value.field == "page_size"


async def test_a_throttled_answer_refills_the_estimate(shop: respx.MockRouter) -> None:
    """After THROTTLED the source knows the bucket: waiting retry_after makes the retry fit."""
    shop.post(GRAPHQL).mock(
        side_effect=[answer(fixture("throttled.json")), answer(fixture("orders_page1.json"))]
    )
    clock = FixedClock(NOW)
    sleeps = Sleeps(clock)
    source = make_source(clock=clock, sleeps=sleeps)
    with pytest.raises(RateLimited) as caught:
        await source.fetch_orders(SINCE, None)
    assert caught.value.retry_after is not None
    clock.now += timedelta(seconds=caught.value.retry_after)  # the poller's wait
    await source.fetch_orders(SINCE, None)
    assert sleeps.waits == []


# ---- a recorded conversation ---------------------------------------------------------------


async def test_two_recorded_polls_replay_request_by_request() -> None:
    """``fixtures/shopify/replay/two_polls.json``: poll 1 pages through the orders, pausing
    before page 2 until the reported bucket holds the query, then lists abandoned checkouts an
    hour behind the watermark, is throttled once and asks again after the retry-after; poll 2,
    from poll 1's start minus settle, finds an order written late, a payment and a completed
    checkout."""
    recording = Replay.load("shopify", "two_polls")
    clock = FixedClock(utc("2025-03-01T03:00:00"))
    sleeps = Sleeps(clock)
    client = ShopifyClient(
        base_url="https://demo.myshopify.com",
        api_version=versions.PINNED,
        token=lambda: "shpat_recorded",
    )
    source = ShopifyOrderSource(
        client=client,
        rules=ShopifyRules(memo_source=MemoSource.TAGS, memo_tag_prefix="memo:"),
        page_size=250,
        clock=clock,
        sleep=sleeps,
    )
    throttled: list[float] = []

    def wait(error: Unavailable) -> None:  # the poller's sleep between attempts
        assert error.retry_after is not None
        throttled.append(error.retry_after)
        clock.now += timedelta(seconds=error.retry_after)

    first_start = clock.now
    with recording.serving():
        first = {
            o.id: o for o in await poll(source.fetch_orders, utc("2025-03-01T01:00:00"), wait=wait)
        }
        clock.now = utc("2025-03-01T03:10:00")
        since = first_start - timedelta(seconds=60)  # the watermark poll 1 left: start - settle
        second = {o.id: o for o in await poll(source.fetch_orders, since, wait=wait)}
    recording.assert_finished()

    assert sleeps.waits == [pytest.approx(2.0)], "page 2 waited for 502 points: (502 - 302) / 100"
    assert throttled == [pytest.approx(2.0)], "THROTTLED: (252 - 52) / 100 s"
    assert {order_id: o.status for order_id, o in first.items()} == {
        "6001": OrderStatus.AWAITING_PAYMENT,
        "6002": OrderStatus.PAID,
        "6003": OrderStatus.CLOSED,
        "checkout:33000000000001": OrderStatus.AWAITING_PAYMENT,
        "checkout:33000000000002": OrderStatus.CLOSED,
    }
    assert (first["6002"].paid_at, first["6002"].seller_memo) == (
        utc("2025-03-01T01:05:00"),
        "Confirmed by phone",
    )
    assert first["checkout:33000000000001"].buyer_id == first["6001"].buyer_id, (
        "Ana's abandoned checkout pairs with her order and her chat by e-mail"
    )
    assert first["checkout:33000000000002"].closed_at == utc("2025-03-01T01:58:00")

    late = second["6004"]
    assert late.updated_at < first_start, "written before poll 1 began, visible only to poll 2"
    assert (second["6001"].status, second["6001"].paid_at) == (
        OrderStatus.PAID,
        utc("2025-03-01T03:05:00"),
    )
    completed = second["checkout:33000000000001"]
    assert (completed.status, completed.closed_at) == (
        OrderStatus.CLOSED,
        utc("2025-03-01T03:06:00"),
    )
    assert len(sleeps.waits) == 1, "ten minutes refilled the bucket: poll 2 needed no pause"


# ---- options, version, registry -------------------------------------------------------------

VALID = {"memo_source": "tags", "memo_tag_prefix": "memo:"}


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ({"api_version": "2025-07"}, "memo_source", "Shopify orders have no seller memo"),
        ({**VALID, "api_version": "2026-11"}, "api_version", "not a stable version"),
        ({**VALID, "api_version": "latest"}, "api_version", "not a version name"),
        ({**VALID, "memo_source": "metafields"}, "memo_source", '"note_attributes"'),
        ({"memo_source": "tags"}, "memo_tag_prefix", "required"),
        ({"memo_source": "note_attributes"}, "memo_attribute", "required"),
        ({**VALID, "memo_attribute": "memo"}, "memo_attribute", 'only to memo_source = "note'),
        ({**VALID, "buyer_key": "nick"}, "buyer_key", '"customer_id"'),
        ({**VALID, "message_attributes": "delivery_date"}, "message_attributes", "list"),
        ({**VALID, "checkout_lookback": "8d"}, "checkout_lookback", "at most 7d"),
        ({**VALID, "memo": "x"}, "memo", "unknown key"),
    ],
)
def test_bad_options_say_what_to_do(extra: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_options("shopify", Stream.ORDERS, extra)
    assert caught.value.key == key
    assert says in caught.value.message


def test_options_default_to_the_pinned_version_and_read_checkouts() -> None:
    options = read_options("shopify", Stream.ORDERS, VALID)
    assert options.api_version == versions.PINNED
    assert (options.abandoned_checkouts, options.checkout_lookback) == (True, timedelta(hours=1))


def test_reading_a_retired_version_logs_a_warning_naming_the_fix() -> None:
    with structlog.testing.capture_logs() as logs:
        read_options("shopify", Stream.ORDERS, {**VALID, "api_version": "2025-07"})
    (entry,) = logs
    assert entry["log_level"] == "warning"
    assert "not been supported since 2026-07-01" in entry["detail"]
    assert f'api_version = "{versions.PINNED}"' in entry["detail"]


@pytest.mark.parametrize(
    ("version", "now", "says"),
    [
        ("2026-10", "2026-11-29T00:00:00", None),
        ("2026-10", "2027-06-30T23:59:59", None),
        ("2026-10", "2027-07-01T00:00:00", "supported only until 2027-10-01"),
        ("2026-10", "2027-07-02T00:00:00", "supported only until 2027-10-01"),
        ("2026-10", "2027-09-30T23:59:59", "supported only until 2027-10-01"),
        ("2026-10", "2027-10-01T00:00:00", "not been supported since 2027-10-01"),
        ("2027-01", "2026-11-29T00:00:00", "not a stable version yet"),
    ],
)
def test_end_of_support_is_computed_from_the_version_name(
    version: str, now: str, says: str | None
) -> None:
    warning = versions.support_warning(version, utc(now))
    assert (warning is None) if says is None else (says in (warning or ""))


def test_the_version_warning_reads_the_injected_clock() -> None:
    with structlog.testing.capture_logs() as logs:
        assert (
            versions.warn_if_retiring("2026-10", clock=FixedClock(utc("2026-12-01T00:00:00")))
            is None
        )
        warning = versions.warn_if_retiring("2026-10", clock=FixedClock(utc("2027-08-01T00:00:00")))
    assert warning is not None and [entry["detail"] for entry in logs] == [warning]


def test_the_pinned_version_is_supported_for_at_least_three_more_months_at_release() -> None:
    assert versions.end_of_support(versions.PINNED) == utc("2027-10-01T00:00:00")


def test_shopify_cannot_serve_chat_and_says_what_to_pair_it_with() -> None:
    with pytest.raises(OptionError, match='kind = "chatwoot"'):
        lookup("shopify", Stream.CHAT)


async def test_the_registry_builds_a_source_calling_the_configured_version(
    shop: respx.MockRouter,
) -> None:
    url = f"{SHOP}/admin/api/2026-07/graphql.json"
    route = shop.post(url).mock(side_effect=Shop())
    config = SourceConfig(
        kind="shopify", base_url=SHOP + "/", token=lambda: "shpat_x", timeout=5.0,
        page_size=20, options=read_options("shopify", Stream.ORDERS,
                                           {**VALID, "api_version": "2026-07"}),
    )  # fmt: skip
    source = lookup("shopify", Stream.ORDERS).build(config, Stream.ORDERS)
    assert isinstance(source, ShopifyOrderSource)
    page = await source.fetch_orders(SINCE, None)
    assert page.next_page_token is not None
    assert sent(route.calls.last.request)["variables"]["first"] == 20
    await source.aclose()
