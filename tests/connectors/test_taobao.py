"""Taobao (TOP) orders: signing, windows, backwards paging, fullinfo top-up, error envelopes."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from connectors.base import SourceConfig
from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable
from connectors.model import Order, OrderStatus, Stream
from connectors.registry import OptionError, lookup
from connectors.taobao import envelope, localtime
from connectors.taobao.client import TaobaoClient
from connectors.taobao.cursor import Cursor
from connectors.taobao.normalize import STATUS, TRADE_TYPES, BuyerKey
from connectors.taobao.signing import SignMethod, sign, signing_string
from connectors.taobao.source import TaobaoOrderSource
from daemon.config.toml_table import ConfigError
from tests.connectors.replay import Replay, poll
from tests.connectors.support import FixedClock, load_fixture, read_options, utc

GATEWAY = "https://gw.example.test/router/rest"
SECRET = "app-secret-demo"
NOW = utc("2025-03-01T04:00:00")  # 12:00 in Shanghai


def fixture(name: str) -> Any:
    return load_fixture("taobao", name)


# ---- signing ------------------------------------------------------------------------------

OFFICIAL_EXAMPLE = {
    # The worked example of TOP's "API调用方法详解" (articleId=101617), secret "helloworld".
    "method": "taobao.item.seller.get",
    "app_key": "12345678",
    "session": "test",
    "timestamp": "2016-01-01 12:00:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "md5",
    "fields": "num_iid,title,nick,price,num",
    "num_iid": "11223344",
}


def test_md5_signature_matches_the_official_worked_example() -> None:
    assert sign(OFFICIAL_EXAMPLE, "helloworld", SignMethod.MD5) == (
        "66987CB115214E59E6EC978214934FB8"
    )


def test_md5_signature_matches_the_example_cited_by_the_research() -> None:
    # research §1.1 (segmentfault q/1010000002569107; the same vector is in several SDK tests)
    params = {
        "method": "taobao.user.seller.get",
        "format": "xml",
        "app_key": "test",
        "v": "2.0",
        "fields": "nick",
        "sign_method": "md5",
        "timestamp": "2013-05-06 13:52:03",
        "session": "test",
    }
    assert sign(params, "test", SignMethod.MD5) == "72CB4D809B375A54502C09360D879C64"


def test_hmac_signature_is_hmac_md5_of_the_unwrapped_string() -> None:
    # No published TOP hmac example was found. Instead: parameters whose signing string is
    # exactly "Hi There", keyed with 16 bytes of 0x0b, must give RFC 2202's HMAC-MD5 test
    # case 1 — which pins both "no secret wrapping" and "HMAC-MD5 keyed with the secret".
    assert signing_string({"Hi": " There"}) == "Hi There"
    assert sign({"Hi": " There"}, "\x0b" * 16, SignMethod.HMAC) == (
        "9294727A3638BB1C13F48EF8158BFC9D"
    )


def test_signing_string_is_sorted_and_skips_sign_and_empty_values() -> None:
    params = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4", "sign": "X", "empty": ""}
    assert signing_string(params) == "bar2foo1foo_bar3foobar4"


# ---- a fake TOP gateway -------------------------------------------------------------------


class Gateway:
    """Answers TOP calls from fixtures, checks every signature and records the forms."""

    def __init__(self, answer: Callable[[dict[str, str]], Any]) -> None:
        self.answer = answer
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        assert sign(form, SECRET, SignMethod(form["sign_method"])) == form["sign"]
        self.forms.append(form)
        return httpx.Response(200, json=self.answer(form))

    def calls(self, method: str) -> list[dict[str, str]]:
        return [form for form in self.forms if form["method"] == method]


def three_pages(form: dict[str, str]) -> Any:
    if form["method"] == "taobao.trade.fullinfo.get":
        return fixture(f"fullinfo_{form['tid']}.json")
    return fixture(f"increment_page{form['page_no']}.json")


@pytest.fixture
def top() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def make_source(
    *,
    page_size: int = 2,
    window_minutes: int = 30,
    method: SignMethod = SignMethod.MD5,
    clock: FixedClock | None = None,
) -> TaobaoOrderSource:
    clock = clock or FixedClock(NOW)
    client = TaobaoClient(
        gateway_url=GATEWAY,
        app_key="12345678",
        app_secret=lambda: SECRET,
        session=lambda: "session-demo",
        sign_method=method,
        clock=clock,
    )
    return TaobaoOrderSource(
        client=client,
        buyer_key=BuyerKey.OPEN_UID,
        window=timedelta(minutes=window_minutes),
        page_size=page_size,
        clock=clock,
    )


async def read_all(source: TaobaoOrderSource, since: Any) -> tuple[list[Order], int]:
    orders: list[Order] = []
    token: str | None = None
    pages = 0
    while True:
        page = await source.fetch_orders(since, token)
        pages += 1
        orders.extend(page.items)
        if page.next_page_token is None:
            return orders, pages
        token = page.next_page_token


# ---- windows and paging -------------------------------------------------------------------


def test_since_to_now_is_split_into_windows_of_at_most_the_configured_length() -> None:
    cursor = Cursor.first(utc("2025-02-27T03:00:00.750"), NOW, timedelta(days=1))
    windows = []
    while cursor is not None:
        windows.append((cursor.start, cursor.end))
        cursor = cursor.next_window(timedelta(days=1))
    assert windows == [
        (utc("2025-02-27T03:00:00"), utc("2025-02-28T03:00:00")),
        (utc("2025-02-28T03:00:00"), utc("2025-03-01T03:00:00")),
        (utc("2025-03-01T03:00:00"), NOW),
    ]


async def test_every_documented_trade_type_is_asked_for_by_default(
    top: respx.MockRouter,
) -> None:
    """Without ``type`` TOP lists only guarantee_trade, auto_delivery, ec, cod and step."""
    gateway = Gateway(lambda form: fixture("increment_empty.json"))
    top.post(GATEWAY).mock(side_effect=gateway)

    await read_all(make_source(), NOW - timedelta(minutes=5))

    (form,) = gateway.calls("taobao.trades.sold.increment.get")
    asked = form["type"].split(",")
    assert asked == list(TRADE_TYPES)
    assert {"guarantee_trade", "auto_delivery", "ec", "cod", "step"} < set(asked)
    assert {"fixed", "auction", "b2c_cod", "tmall_i18n", "o2o_offlinetrade"} < set(asked)
    assert read_options("taobao", Stream.ORDERS, VALID).trade_types == TRADE_TYPES


def test_the_page_token_round_trips_and_a_foreign_one_is_refused() -> None:
    cursor = Cursor.first(utc("2025-03-01T03:00:00"), NOW, timedelta(minutes=30))
    assert cursor is not None
    assert Cursor.decode(cursor.at_page(3).encode()) == cursor.at_page(3)
    with pytest.raises(BadResponse) as caught:
        Cursor.decode("not-a-token")
    assert caught.value.field == "page_token"


async def test_a_multi_page_window_is_read_from_the_last_page_backwards(
    top: respx.MockRouter,
) -> None:
    gateway = Gateway(three_pages)
    top.post(GATEWAY).mock(side_effect=gateway)
    source = make_source()

    orders, pages = await read_all(source, NOW - timedelta(minutes=20))

    listed = gateway.calls("taobao.trades.sold.increment.get")
    assert [form["page_no"] for form in listed] == ["1", "3", "2", "1"]
    assert pages == 4
    assert {form["start_modified"] for form in listed} == {"2025-03-01 11:40:00"}
    assert {form["end_modified"] for form in listed} == {"2025-03-01 12:00:00"}
    assert {form["use_has_next"] for form in listed} == {"false"}
    assert sorted(o.id for o in orders) == [f"401234567890000{i}" for i in range(1, 6)]
    assert [o.updated_at for o in orders] == sorted(o.updated_at for o in orders)
    await source.aclose()


async def test_the_probe_page_is_kept_when_it_is_the_only_page(top: respx.MockRouter) -> None:
    only_page = fixture("increment_page3.json")
    only_page["trades_sold_increment_get_response"]["total_results"] = 1
    gateway = Gateway(lambda form: only_page)
    top.post(GATEWAY).mock(side_effect=gateway)

    orders, pages = await read_all(make_source(), NOW - timedelta(minutes=20))

    assert pages == 1
    assert [o.id for o in orders] == ["4012345678900001"]


async def test_each_window_is_listed_in_turn(top: respx.MockRouter) -> None:
    gateway = Gateway(lambda form: fixture("increment_empty.json"))
    top.post(GATEWAY).mock(side_effect=gateway)

    orders, _ = await read_all(make_source(window_minutes=30), NOW - timedelta(minutes=70))

    windows = [(f["start_modified"], f["end_modified"]) for f in gateway.forms]
    assert windows == [
        ("2025-03-01 10:50:00", "2025-03-01 11:20:00"),
        ("2025-03-01 11:20:00", "2025-03-01 11:50:00"),
        ("2025-03-01 11:50:00", "2025-03-01 12:00:00"),
    ]
    assert orders == []


# ---- the fullinfo top-up ------------------------------------------------------------------


async def test_fullinfo_is_called_only_for_trades_lacking_the_message_fields(
    top: respx.MockRouter,
) -> None:
    gateway = Gateway(three_pages)
    top.post(GATEWAY).mock(side_effect=gateway)
    source = make_source()

    await read_all(source, NOW - timedelta(minutes=20))
    # 1: has_buyer_message false; 3: has_buyer_message false; 4: the list carried all three.
    assert sorted(f["tid"] for f in gateway.calls("taobao.trade.fullinfo.get")) == [
        "4012345678900002",
        "4012345678900005",
    ]

    await read_all(source, NOW - timedelta(minutes=20))  # the next poll re-reads the overlap
    assert len(gateway.calls("taobao.trade.fullinfo.get")) == 2, "details are remembered"


async def test_a_detail_newer_than_the_list_replaces_the_listed_version(
    top: respx.MockRouter,
) -> None:
    top.post(GATEWAY).mock(side_effect=Gateway(three_pages))

    orders, _ = await read_all(make_source(), NOW - timedelta(minutes=20))

    finished = next(o for o in orders if o.id == "4012345678900005")
    assert finished.updated_at == utc("2025-03-01T03:59:30"), "the detail's own modified"
    assert finished.seller_memo == "已告知买家选大一码"


async def test_a_detail_answer_that_does_not_read_fails_the_page_not_the_trade(
    top: respx.MockRouter,
) -> None:
    """A failed fullinfo request is the request's fault, not the trade's: the page is read
    again, never stored without that trade."""

    def broken(form: dict[str, str]) -> Any:
        if form["method"] == "taobao.trade.fullinfo.get":
            return {"trade_fullinfo_get_response": {"request_id": "x"}}
        return fixture(f"increment_page{form['page_no']}.json")

    top.post(GATEWAY).mock(side_effect=Gateway(broken))
    last = Cursor.first(NOW - timedelta(minutes=20), NOW, timedelta(minutes=30))
    assert last is not None
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(NOW - timedelta(minutes=20), last.at_page(2).encode())
    assert caught.value.field == "trade_fullinfo_get_response.trade"


async def test_a_detail_older_than_the_list_fails_the_page_instead_of_guessing(
    top: respx.MockRouter,
) -> None:
    def lagging(form: dict[str, str]) -> Any:
        if form["method"] == "taobao.trade.fullinfo.get":
            stale = fixture(f"fullinfo_{form['tid']}.json")
            stale["trade_fullinfo_get_response"]["trade"]["modified"] = "2025-03-01 11:00:00"
            return stale
        return fixture(f"increment_page{form['page_no']}.json")

    top.post(GATEWAY).mock(side_effect=Gateway(lagging))
    source = make_source()
    last = Cursor.first(NOW - timedelta(minutes=20), NOW, timedelta(minutes=30))
    assert last is not None
    with pytest.raises(Unavailable):
        await source.fetch_orders(NOW - timedelta(minutes=20), last.at_page(2).encode())


# ---- normalization ------------------------------------------------------------------------


async def test_every_field_the_rules_use_is_normalized(top: respx.MockRouter) -> None:
    top.post(GATEWAY).mock(side_effect=Gateway(three_pages))

    orders, _ = await read_all(make_source(), NOW - timedelta(minutes=20))
    by_id = {o.id: o for o in orders}

    unpaid = by_id["4012345678900001"]
    assert unpaid.status is OrderStatus.AWAITING_PAYMENT
    assert unpaid.buyer_id == "AAG-uid-1"
    assert unpaid.created_at == utc("2025-03-01T03:41:00"), "Beijing time read as UTC+8"
    assert unpaid.updated_at == utc("2025-03-01T03:42:00")
    assert (unpaid.paid_at, unpaid.closed_at) == (None, None)
    assert (unpaid.buyer_message, unpaid.seller_memo, unpaid.seller_flag) == (None, None, 0)
    assert (unpaid.amount, unpaid.currency) == (Decimal("59.00"), "CNY")

    paid = by_id["4012345678900002"]
    assert paid.status is OrderStatus.PAID
    assert paid.paid_at == utc("2025-03-01T02:40:11")
    assert paid.buyer_message == "请发顺丰，周末不收货", "from fullinfo"
    assert paid.seller_memo is None, "fullinfo omits an empty memo"
    assert paid.seller_flag == 1, "flagged but no memo yet: CS103's grace case"

    closed = by_id["4012345678900003"]
    assert closed.status is OrderStatus.CLOSED
    assert closed.closed_at == utc("2025-03-01T03:49:58"), "end_time"

    shipped = by_id["4012345678900004"]
    assert shipped.status is OrderStatus.SHIPPED
    assert (shipped.buyer_message, shipped.seller_memo) == ("送礼，不要放发票", "已确认不放发票")
    assert shipped.seller_flag == 3

    assert by_id["4012345678900005"].status is OrderStatus.COMPLETED


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("WAIT_BUYER_PAY", OrderStatus.AWAITING_PAYMENT),
        ("TRADE_NO_CREATE_PAY", OrderStatus.AWAITING_PAYMENT),
        ("PAY_PENDING", OrderStatus.AWAITING_PAYMENT),
        ("WAIT_SELLER_SEND_GOODS", OrderStatus.PAID),
        ("PAID_FORBID_CONSIGN", OrderStatus.PAID),
        ("SELLER_CONSIGNED_PART", OrderStatus.SHIPPED),
        ("WAIT_BUYER_CONFIRM_GOODS", OrderStatus.SHIPPED),
        ("TRADE_BUYER_SIGNED", OrderStatus.SHIPPED),
        ("TRADE_FINISHED", OrderStatus.COMPLETED),
        ("TRADE_CLOSED", OrderStatus.CLOSED),
        ("TRADE_CLOSED_BY_TAOBAO", OrderStatus.CLOSED),
    ],
)
def test_status_mapping_follows_the_research(status: str, expected: OrderStatus) -> None:
    assert STATUS[status] is expected


def test_local_times_are_rendered_in_shanghai() -> None:
    assert localtime.render(utc("2025-03-01T16:30:00")) == "2025-03-02 00:30:00"


# ---- errors -------------------------------------------------------------------------------


async def test_the_throttling_code_is_rate_limited_for_the_ban_seconds(
    top: respx.MockRouter,
) -> None:
    top.post(GATEWAY).mock(return_value=httpx.Response(200, json=fixture("error_throttled.json")))
    with pytest.raises(RateLimited) as caught:
        await make_source().fetch_orders(NOW - timedelta(minutes=20), None)
    assert caught.value.retry_after == 12.0


async def test_a_long_ban_is_waited_out_without_calling_top(top: respx.MockRouter) -> None:
    """The daily quota's ban (code 7, tens of thousands of seconds): every fetch until it ends
    fails at once, saying until when, and costs no call."""
    gateway = top.post(GATEWAY)
    gateway.mock(return_value=httpx.Response(200, json=fixture("error_daily_quota.json")))
    clock = FixedClock(NOW)
    source = make_source(clock=clock)
    since = NOW - timedelta(minutes=20)

    with pytest.raises(RateLimited) as first:
        await source.fetch_orders(since, None)
    assert first.value.retry_after == 31062.0

    clock.now = NOW + timedelta(hours=1)
    with pytest.raises(RateLimited) as waiting:
        await source.fetch_orders(since, None)
    assert waiting.value.retry_after == 31062.0 - 3600
    assert "2025-03-01 20:37:42 Beijing time" in str(waiting.value)  # 12:00 + 8 h 37 m 42 s
    assert gateway.call_count == 1

    gateway.mock(return_value=httpx.Response(200, json=fixture("increment_empty.json")))
    clock.now = NOW + timedelta(seconds=31062)
    assert (await source.fetch_orders(since, None)).items == ()
    assert gateway.call_count == 2


def test_the_trade_service_rejection_backs_off_three_minutes() -> None:
    error = envelope.error_from(
        "taobao.trades.sold.increment.get",
        fixture("error_trade_service_rejection.json")["error_response"],
    )
    assert isinstance(error, RateLimited)
    assert error.retry_after == 180.0
    assert "window_minutes" in str(error)


@pytest.mark.parametrize(
    "text", ["This ban will last for 31062 more seconds", "ban will last 31062 seconds"]
)
def test_ban_seconds_are_read_from_either_wording(text: str) -> None:
    assert envelope.ban_seconds(text) == 31062.0


async def test_an_invalid_session_is_auth_failed(top: respx.MockRouter) -> None:
    body = fixture("error_invalid_session.json")
    top.post(GATEWAY).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(AuthFailed, match="authorise the app again"):
        await make_source().fetch_orders(NOW - timedelta(minutes=20), None)


async def test_an_http_5xx_is_unavailable(top: respx.MockRouter) -> None:
    top.post(GATEWAY).mock(return_value=httpx.Response(502))
    with pytest.raises(Unavailable):
        await make_source().fetch_orders(NOW - timedelta(minutes=20), None)


def test_an_unknown_platform_error_names_its_code() -> None:
    error = envelope.error_from("m", {"code": 41, "msg": "Invalid Arguments"})
    assert isinstance(error, BadResponse)
    assert error.field == "error_response.code"
    assert "41" in str(error)


# ---- schema drift -------------------------------------------------------------------------


def drifted(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, str]], Any]:
    """A page of two trades whose first is changed; the second is sound."""

    def answer(form: dict[str, str]) -> Any:
        body = copy.deepcopy(fixture("increment_page3.json"))
        response = body["trades_sold_increment_get_response"]
        trades = response["trades"]["trade"]
        sound = dict(trades[0], tid=4012345678900009, tid_str="4012345678900009")
        trades.append(sound)
        response["total_results"] = len(trades)
        change(trades[0])
        return body

    return answer


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.pop("modified"), "trades.trade[0].modified"),
        (lambda t: t.update(created="2025-03-01T11:41:00+08:00"), "trades.trade[0].created"),
        (lambda t: t.update(status="WAIT_SOMETHING_NEW"), "trades.trade[0].status"),
        (lambda t: t.update(payment=59.0), "trades.trade[0].payment"),
        (lambda t: t.pop("buyer_open_uid"), "trades.trade[0].buyer_open_uid"),
        (
            lambda t: t.update(status="WAIT_SELLER_SEND_GOODS", has_buyer_message=False),
            "trades.trade[0].pay_time",
        ),
    ],
)
async def test_a_malformed_trade_is_refused_alone_naming_the_field(
    top: respx.MockRouter, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    top.post(GATEWAY).mock(side_effect=Gateway(drifted(change)))
    page = await make_source().fetch_orders(NOW - timedelta(minutes=20), None)
    assert [order.id for order in page.items] == ["4012345678900009"]
    (refused,) = page.rejected
    assert refused.field == field
    assert refused.reason == field.rsplit(".", 1)[1]
    assert refused.key == "4012345678900001", "which order lacks a version"
    assert refused.buyer == (None if "buyer_open_uid" in field else "AAG-uid-1")
    assert "AAG-uid-1" not in refused.error, "no buyer data in the report"


async def test_an_unknown_status_says_so_and_a_trade_without_an_id_has_no_key(
    top: respx.MockRouter,
) -> None:
    def unknown_and_nameless(trade: dict[str, Any]) -> None:
        trade.update(status="WAIT_SOMETHING_NEW")
        del trade["tid"], trade["tid_str"]

    top.post(GATEWAY).mock(side_effect=Gateway(drifted(unknown_and_nameless)))
    (refused,) = (await make_source().fetch_orders(NOW - timedelta(minutes=20), None)).rejected
    assert refused.error == "unknown trade status 'WAIT_SOMETHING_NEW'"
    assert refused.key is None


async def test_a_missing_list_inside_the_reported_total_is_drift(top: respx.MockRouter) -> None:
    body = {"trades_sold_increment_get_response": {"total_results": 3, "request_id": "x"}}
    top.post(GATEWAY).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_orders(NOW - timedelta(minutes=20), None)
    assert caught.value.field == "trades_sold_increment_get_response.trades"


# ---- options and the registry -------------------------------------------------------------

VALID = {"app_key": "12345678", "app_secret_file": "/etc/shopwatch/taobao-secret"}


def test_taobao_cannot_serve_chat_and_says_what_to_pair_it_with() -> None:
    with pytest.raises(OptionError) as caught:
        lookup("taobao", Stream.CHAT)
    assert caught.value.key == "kind"
    assert 'kind = "chatwoot"' in caught.value.message


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ({"app_secret_file": "/s"}, "app_key", "required"),
        ({"app_key": "1"}, "app_secret_file", "required"),
        ({**VALID, "app_secret": "inline!"}, "app_secret", "app_secret_file"),
        ({**VALID, "sign_method": "sha1"}, "sign_method", '"md5", "hmac"'),
        ({**VALID, "window_minutes": 1441}, "window_minutes", "at most one day"),
        ({**VALID, "buyer_key": "email"}, "buyer_key", '"open_uid", "nick"'),
        ({**VALID, "trade_types": "fixed"}, "trade_types", "list"),
        ({**VALID, "sesion_file": "/s"}, "sesion_file", "unknown key"),
    ],
)
def test_bad_options_say_what_to_do(extra: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_options("taobao", Stream.ORDERS, extra)
    assert caught.value.key == key
    assert says in caught.value.message


async def test_the_registry_builds_a_source_reading_the_app_secret_file(
    top: respx.MockRouter,
) -> None:
    gateway = Gateway(lambda form: fixture("increment_empty.json"))
    top.post(GATEWAY).mock(side_effect=gateway)
    config = SourceConfig(
        kind="taobao",
        base_url=GATEWAY,
        token=lambda: "session-demo",
        timeout=5.0,
        page_size=500,
        options=read_options(
            "taobao",
            Stream.ORDERS,
            {**VALID, "sign_method": "hmac", "trade_types": ["fixed", "auction"]},
        ),
        read_secret=lambda key: SECRET if key == "app_secret_file" else "",
    )
    source = lookup("taobao", Stream.ORDERS).build(config, Stream.ORDERS)
    assert isinstance(source, TaobaoOrderSource)

    await source.fetch_orders(NOW - timedelta(minutes=5), None)  # real clock: a past window

    (form,) = gateway.forms
    assert (form["app_key"], form["session"], form["sign_method"]) == (
        "12345678",
        "session-demo",
        "hmac",
    )
    assert form["type"] == "fixed,auction"
    assert form["page_size"] == "100", "page_size is capped at TOP's maximum"
    await source.aclose()


# ---- a recorded conversation ----------------------------------------------------------------


async def test_two_recorded_polls_replay_request_by_request() -> None:
    """``fixtures/taobao/replay/two_polls.json``: a window read last page first, a code 7 ban
    waited out, the fullinfo top-up; then a poll whose window overlaps the first by ``settle``
    and finds a trade TOP listed late."""
    recording = Replay.load("taobao", "two_polls")
    clock = FixedClock(utc("2025-03-01T04:00:00"))
    source = make_source(clock=clock)

    def sleep(error: Unavailable) -> None:
        assert error.retry_after is not None
        clock.now += timedelta(seconds=error.retry_after)

    with recording.serving():
        first = await poll(source.fetch_orders, utc("2025-03-01T03:30:00"), wait=sleep)
        clock.now = utc("2025-03-01T04:05:00")
        second = await poll(source.fetch_orders, utc("2025-03-01T03:59:00"), wait=sleep)
    recording.assert_finished()

    assert [o.id[-1] for o in first] == ["1", "2", "3", "4", "5"]
    by_id = {o.id[-1]: o for o in first}
    assert by_id["2"].buyer_message == "请发顺丰，周末不收货", "from the detail"
    assert by_id["5"].buyer_message == "尺码偏小吗？"
    assert by_id["5"].seller_memo == "已告知买家选大一码"
    assert [(o.id[-1], o.updated_at) for o in second] == [
        ("6", utc("2025-03-01T03:59:40")),
        ("4", utc("2025-03-01T04:03:00")),
    ]
    assert second[1].seller_memo == "已确认不放发票，附贺卡"
