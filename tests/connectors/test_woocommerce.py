"""WooCommerce orders: X-WP-TotalPages paging, GMT times, private notes as memo, follow-up."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from connectors.base import SourceConfig
from connectors.errors import AuthFailed, BadResponse, RateLimited
from connectors.model import Order, OrderStatus, Stream
from connectors.registry import OptionError, lookup
from connectors.woocommerce import normalize
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.normalize import WooRules
from connectors.woocommerce.source import WooCommerceOrderSource
from daemon.config.toml_table import ConfigError
from tests.connectors.replay import Replay, poll
from tests.connectors.support import FixedClock, load_fixture, read_options, utc

SHOP = "https://shop.example.test"
ORDERS = f"{SHOP}/wp-json/wc/v3/orders"
NOTES = f"{ORDERS}/727/notes"
SINCE = utc("2025-03-01T01:00:00")
NOW = utc("2025-03-01T04:00:00")
RULES = WooRules(flag_meta_key="_shopwatch_flag")


def fixture(name: str) -> Any:
    return load_fixture("woocommerce", name)


def pages(request: httpx.Request) -> httpx.Response:
    page = request.url.params["page"]
    return httpx.Response(
        200, json=fixture(f"orders_page{page}.json"), headers={"X-WP-TotalPages": "2"}
    )


def listing(*orders: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=list(orders), headers={"X-WP-TotalPages": "1"})


@pytest.fixture
def shop() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        # Registered first, so it answers every trash listing; tests mock the others.
        router.get(ORDERS, params={"status": "trash"}).mock(return_value=listing())
        router.get(NOTES).mock(return_value=httpx.Response(200, json=fixture("notes_727.json")))
        yield router


def make_source(
    rules: WooRules = RULES, clock: FixedClock | None = None, recheck_hours: int = 0
) -> WooCommerceOrderSource:
    client = WooCommerceClient(
        base_url=SHOP, consumer_key=lambda: "ck_demo", consumer_secret=lambda: "cs_demo"
    )
    return WooCommerceOrderSource(
        client=client,
        rules=rules,
        page_size=500,
        memo_recheck=timedelta(hours=recheck_hours),
        clock=clock or FixedClock(NOW),
    )


async def read_all(source: WooCommerceOrderSource, since: Any = SINCE) -> list[Order]:
    orders: list[Order] = []
    token: str | None = None
    while True:
        page = await source.fetch_orders(since, token)
        orders.extend(page.items)
        if page.next_page_token is None:
            return orders
        token = page.next_page_token


async def test_pages_follow_x_wp_totalpages(shop: respx.MockRouter) -> None:
    route = shop.get(ORDERS).mock(side_effect=pages)

    orders = await read_all(make_source())

    assert sorted({o.id for o in orders}) == ["727", "728", "729"], "the draft is skipped"
    first, second = (call.request for call in route.calls)
    assert dict(first.url.params) == {
        "status": "any",
        "modified_after": "2025-03-01T00:59:59",  # one second early, no offset: GMT
        "dates_are_gmt": "true",
        "orderby": "date",
        "order": "asc",
        "page": "1",
        "per_page": "100",
    }
    assert second.url.params["page"] == "2"
    expected = base64.b64encode(b"ck_demo:cs_demo").decode()
    assert first.headers["Authorization"] == f"Basic {expected}"


async def test_every_field_the_rules_use_is_normalized(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(side_effect=pages)

    orders = await read_all(make_source())

    paid_versions = [o for o in orders if o.id == "727"]
    listed, noted = paid_versions
    assert listed.status is OrderStatus.PAID
    assert listed.buyer_id == "ana.li@example.com"
    assert listed.created_at == utc("2025-03-01T02:15:00"), "_gmt read as UTC"
    assert listed.updated_at == utc("2025-03-01T02:41:09")
    assert listed.paid_at == utc("2025-03-01T02:41:08")
    assert listed.closed_at is None
    assert listed.buyer_message == "Leave with the concierge"
    assert listed.seller_memo is None, "the only private note came later"
    assert listed.seller_flag == 1, "from the configured meta key"
    assert (listed.amount, listed.currency) == (Decimal("88.00"), "CNY")
    # The private, human-written note is its own version, dated when it was written; the
    # customer note and the system note are not memos.
    assert noted.updated_at == utc("2025-03-01T03:02:00")
    assert noted.seller_memo == "Concierge delivery confirmed by phone"

    (pending,) = [o for o in orders if o.id == "728"]
    assert pending.status is OrderStatus.AWAITING_PAYMENT
    assert pending.buyer_id == "woocommerce:order:728", "a guest without e-mail never pairs"
    assert (pending.buyer_message, pending.paid_at) == (None, None)

    (cancelled,) = [o for o in orders if o.id == "729"]
    assert cancelled.status is OrderStatus.CLOSED
    assert cancelled.closed_at == utc("2025-03-01T03:00:00")


async def test_an_unpaid_order_moved_to_the_trash_is_seen_closed(shop: respx.MockRouter) -> None:
    """status=any never lists the trash, so each poll lists status=trash as well; trashing
    updates the order's modification time, so the same modified_after finds it."""
    pending = fixture("orders_page1.json")[1]
    listed = shop.get(ORDERS).mock(return_value=listing(pending))
    source = make_source()
    (before,) = await read_all(source)
    assert before.status is OrderStatus.AWAITING_PAYMENT

    listed.mock(return_value=listing())
    trash = shop.get(ORDERS, params={"status": "trash"})
    trash.mock(return_value=listing(*fixture("orders_trash.json")))
    (after,) = await read_all(source, since=utc("2025-03-01T03:00:00"))

    assert (after.id, after.status) == ("728", OrderStatus.CLOSED)
    assert after.updated_at == after.closed_at == utc("2025-03-01T03:30:00")
    statuses = [
        c.request.url.params["status"] for c in shop.calls if c.request.url.path.endswith("/orders")
    ]
    assert statuses == ["any", "trash", "any", "trash"], "every poll reads both, trash last"
    assert trash.calls.last.request.url.params["modified_after"] == "2025-03-01T02:59:59"


async def test_notes_are_read_only_for_paid_orders_with_a_buyer_message(
    shop: respx.MockRouter,
) -> None:
    shop.get(ORDERS).mock(side_effect=pages)
    await read_all(make_source())
    notes = [c.request.url.path for c in shop.calls if c.request.url.path.endswith("/notes")]
    assert notes == ["/wp-json/wc/v3/orders/727/notes"]
    assert shop.calls[1].request.url.params["type"] == "internal"


async def test_a_manual_status_change_logged_under_the_admins_name_is_not_a_memo(
    shop: respx.MockRouter,
) -> None:
    """WooCommerce writes "Order status changed from … to …" under the admin's name when the
    admin changes the status by hand, and logs stock edits the same way: no memo (CS103)."""
    shop.get(ORDERS).mock(return_value=listing(fixture("orders_page1.json")[0]))
    shop.get(NOTES).mock(
        return_value=httpx.Response(200, json=fixture("notes_727_manual_status.json"))
    )

    (order,) = (await make_source().fetch_orders(SINCE, None)).items

    assert order.seller_memo is None


async def test_a_memo_written_through_the_rest_api(shop: respx.MockRouter) -> None:
    """A note POSTed without added_by_user shows the author "system", like a gateway's note;
    with added_by_user it carries the API user's name. memo_prefix finds the former."""
    shop.get(ORDERS).mock(return_value=listing(fixture("orders_page1.json")[0]))
    shop.get(NOTES).mock(
        return_value=httpx.Response(200, json=fixture("notes_727_rest_written.json"))
    )

    by_author = (await make_source().fetch_orders(SINCE, None)).items
    assert [o.seller_memo for o in by_author] == [None, "Concierge delivery confirmed by phone"]

    prefixed = make_source(WooRules(memo_prefix="备注："))
    by_prefix = (await prefixed.fetch_orders(SINCE, None)).items
    assert [(o.updated_at, o.seller_memo) for o in by_prefix] == [
        (utc("2025-03-01T02:41:09"), None),
        (utc("2025-03-01T03:06:00"), "顺丰到付，已电话确认"),
    ]


@pytest.mark.parametrize(
    ("author", "text", "memo"),
    [
        ("shop_manager_zhou", "Call the buyer before shipping", "Call the buyer before shipping"),
        ("system", "Call the buyer before shipping", None),
        ("WooCommerce", "Stock levels reduced: Blue mug (12&rarr;11)", None),
        ("shop_manager_zhou", "Order status changed by bulk edit: Order status changed "
         "from Processing to Completed.", None),
        ("shop_manager_zhou", "Order status set to Processing.", None),
        ("shop_manager_zhou", "Added line items: Blue mug", None),
        ("shop_manager_zhou", "Deleted Blue mug", None),
    ],
)  # fmt: skip
def test_which_private_notes_are_the_memo(author: str, text: str, memo: str | None) -> None:
    assert normalize.memo_text(author, text, WooRules()) == memo


async def test_a_memo_written_later_without_changing_the_order_is_followed_up(
    shop: respx.MockRouter,
) -> None:
    clock = FixedClock(utc("2025-03-01T02:45:00"))
    source = make_source(clock=clock, recheck_hours=24)
    orders_route = shop.get(ORDERS).mock(return_value=listing(fixture("orders_page1.json")[0]))
    system_only = fixture("notes_727.json")[2:]
    notes_route = shop.get(NOTES).mock(return_value=httpx.Response(200, json=system_only))

    first = await read_all(source, since=utc("2025-03-01T02:00:00"))
    assert [o.seller_memo for o in first] == [None]
    # The first poll after start lists memo_recheck further back, to learn awaiting orders.
    assert orders_route.calls.last.request.url.params["modified_after"] == "2025-02-28T01:59:59"

    clock.now = utc("2025-03-01T03:10:00")
    orders_route.mock(return_value=listing())  # the order itself did not change
    notes_route.mock(return_value=httpx.Response(200, json=fixture("notes_727.json")))

    second = await read_all(source, since=utc("2025-03-01T02:44:00"))
    assert orders_route.calls.last.request.url.params["modified_after"] == "2025-03-01T02:43:59"
    (followed,) = second
    assert (followed.id, followed.updated_at) == ("727", utc("2025-03-01T03:02:00"))
    assert followed.seller_memo == "Concierge delivery confirmed by phone"

    await read_all(source, since=utc("2025-03-01T03:09:00"))
    assert len(notes_route.calls) == 2, "an order with its memo is no longer followed up"


async def test_the_follow_up_ends_after_memo_recheck(shop: respx.MockRouter) -> None:
    clock = FixedClock(utc("2025-03-01T02:45:00"))
    source = make_source(clock=clock, recheck_hours=1)
    shop.get(ORDERS).mock(return_value=listing(fixture("orders_page1.json")[0]))
    notes_route = shop.get(NOTES).mock(
        return_value=httpx.Response(200, json=fixture("notes_727.json")[2:])
    )
    await read_all(source)
    shop.get(ORDERS).mock(return_value=listing())

    clock.now = utc("2025-03-01T03:42:00")  # paid 02:41:08 + 1 h has passed
    assert await read_all(source) == []
    assert len(notes_route.calls) == 1


async def test_custom_statuses_are_mapped_or_named(shop: respx.MockRouter) -> None:
    shipped = {**fixture("orders_page1.json")[0], "status": "shipped"}
    pending = fixture("orders_page1.json")[1]
    shop.get(ORDERS).mock(return_value=listing(shipped, pending))

    page = await make_source().fetch_orders(SINCE, None)
    assert [o.id for o in page.items] == ["728"], "the other order is kept"
    (refused,) = page.rejected
    assert (refused.field, refused.reason, refused.key) == ("orders[0].status", "status", "727")
    assert refused.buyer == "ana.li@example.com", "whose evidence lacks it"
    assert refused.error == (
        "unknown order status 'shipped'; map it with status_map, "
        'e.g. status_map = { "shipped" = "paid" }'
    )

    mapped = make_source(WooRules(status_map={"shipped": OrderStatus.SHIPPED}))
    page = await mapped.fetch_orders(SINCE, None)
    assert {o.status for o in page.items} == {OrderStatus.SHIPPED, OrderStatus.AWAITING_PAYMENT}
    assert page.rejected == ()


async def test_a_refused_key_is_auth_failed(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(
        return_value=httpx.Response(401, json={"code": "woocommerce_rest_cannot_view"})
    )
    with pytest.raises(AuthFailed):
        await make_source().fetch_orders(SINCE, None)


async def test_a_throttling_host_is_rate_limited(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(return_value=httpx.Response(429, headers={"Retry-After": "30"}))
    with pytest.raises(RateLimited) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.pop("date_modified_gmt"), "orders[0].date_modified_gmt"),
        (lambda o: o.update(date_paid_gmt="1 March"), "orders[0].date_paid_gmt"),
        (lambda o: o.update(total=88), "orders[0].total"),
        (lambda o: o.update(customer_id="12"), "orders[0].customer_id"),
        (lambda o: o.update(billing=None), "orders[0].billing"),
        # Wider than the store's column: refused here, not by PostgreSQL at the write.
        (lambda o: o.update(currency="RENMINBI1"), "orders[0].currency"),
    ],
)
async def test_a_malformed_order_is_refused_alone_naming_the_field(
    shop: respx.MockRouter, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    raw = copy.deepcopy(fixture("orders_page1.json")[0])
    change(raw)
    shop.get(ORDERS).mock(return_value=listing(raw, fixture("orders_page1.json")[1]))
    page = await make_source().fetch_orders(SINCE, None)
    assert [o.id for o in page.items] == ["728"]
    (refused,) = page.rejected
    assert (refused.field, refused.key) == (field, "727")
    assert refused.reason == field.removeprefix("orders[0].")


async def test_an_order_without_an_id_is_refused_without_a_key(shop: respx.MockRouter) -> None:
    nameless = {**fixture("orders_page1.json")[0], "id": None}
    shop.get(ORDERS).mock(return_value=listing(nameless, fixture("orders_page1.json")[1]))
    page = await make_source().fetch_orders(SINCE, None)
    assert [o.id for o in page.items] == ["728"]
    assert [(r.field, r.reason, r.key) for r in page.rejected] == [("orders[0].id", "id", None)]


async def test_a_body_that_is_no_list_still_fails_the_page(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(
        return_value=httpx.Response(200, json={"orders": []}, headers={"X-WP-TotalPages": "1"})
    )
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == "orders"


async def test_drift_in_notes_and_headers_is_named(shop: respx.MockRouter) -> None:
    shop.get(ORDERS).mock(return_value=httpx.Response(200, json=[]))
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == "X-WP-TotalPages"

    shop.get(ORDERS).mock(return_value=listing(fixture("orders_page1.json")[0]))
    notes = fixture("notes_727.json")
    del notes[0]["customer_note"]
    shop.get(NOTES).mock(return_value=httpx.Response(200, json=notes))
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(SINCE, None)
    assert caught.value.field == "orders[0].notes[0].customer_note"


# ---- options ------------------------------------------------------------------------------

VALID = {"consumer_secret_file": "/etc/shopwatch/woo-secret"}


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ({}, "consumer_secret_file", "token_file holds the consumer key"),
        ({**VALID, "consumer_secret": "cs_x"}, "consumer_secret", "consumer_secret_file"),
        ({**VALID, "status_map": {"shipped": "sent"}}, "status_map.shipped", "shipped"),
        ({**VALID, "status_map": "shipped"}, "status_map", "table"),
        ({**VALID, "memo_recheck_hours": 200}, "memo_recheck_hours", "0 turns it off"),
        ({**VALID, "buyer_key": "nick"}, "buyer_key", "email"),
    ],
)
def test_bad_options_say_what_to_do(extra: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_options("woocommerce", Stream.ORDERS, extra)
    assert caught.value.key == key
    assert says in caught.value.message


def config(base_url: str) -> SourceConfig:
    return SourceConfig(
        kind="woocommerce",
        base_url=base_url,
        token=lambda: "ck_file",
        timeout=5.0,
        page_size=20,
        options=read_options(
            "woocommerce", Stream.ORDERS, {**VALID, "status_map": {"wc-shipped": "shipped"}}
        ),
        read_secret=lambda key: "cs_file" if key == "consumer_secret_file" else "",
    )


def test_plain_http_is_refused_at_build() -> None:
    kind = lookup("woocommerce", Stream.ORDERS)
    with pytest.raises(OptionError, match="https://") as caught:
        kind.build(config("http://shop.example.test"), Stream.ORDERS)
    assert caught.value.key == "base_url"


async def test_the_registry_builds_a_source_with_both_secrets(shop: respx.MockRouter) -> None:
    route = shop.get(ORDERS).mock(return_value=listing())
    source = lookup("woocommerce", Stream.ORDERS).build(config(SHOP), Stream.ORDERS)
    assert isinstance(source, WooCommerceOrderSource)
    await source.fetch_orders(SINCE, None)
    request = route.calls.last.request
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"ck_file:cs_file").decode()
    )
    assert request.url.params["per_page"] == "20"
    await source.aclose()


# ---- a recorded conversation ----------------------------------------------------------------


async def test_two_recorded_polls_replay_request_by_request() -> None:
    """``fixtures/woocommerce/replay/two_polls.json``: maintenance mode fails the first attempt
    of poll 1 and the stream waits; poll 1 again pages through ``any`` and the trash; poll 2
    finds an order written late and, by the memo follow-up, a memo written after poll 1."""
    recording = Replay.load("woocommerce", "two_polls")
    clock = FixedClock(utc("2025-03-01T03:00:00"))
    client = WooCommerceClient(
        base_url=SHOP, consumer_key=lambda: "ck_demo", consumer_secret=lambda: "cs_demo"
    )
    source = WooCommerceOrderSource(
        client=client,
        rules=WooRules(),
        page_size=2,
        memo_recheck=timedelta(hours=24),
        clock=clock,
    )

    with recording.serving():
        with pytest.raises(RateLimited) as paused:
            await poll(source.fetch_orders, utc("2025-03-01T02:30:00"))
        clock.now = utc("2025-03-01T03:10:00")
        first = await poll(source.fetch_orders, utc("2025-03-01T02:30:00"))
        clock.now = utc("2025-03-01T03:15:00")
        second = await poll(source.fetch_orders, utc("2025-03-01T03:09:00"))
    recording.assert_finished()

    assert paused.value.retry_after == 600.0
    assert [(o.id, o.status, o.has_seller_memo) for o in first] == [
        ("727", OrderStatus.PAID, False),
        ("728", OrderStatus.AWAITING_PAYMENT, False),
        ("729", OrderStatus.CLOSED, False),
    ]
    assert [(o.id, o.updated_at, o.seller_memo) for o in second] == [
        ("731", utc("2025-03-01T03:09:30"), None),
        ("727", utc("2025-03-01T03:12:00"), "Concierge delivery confirmed by phone"),
    ]
