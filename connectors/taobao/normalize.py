"""Pure translation of TOP trade JSON (``format=json``, not simplified) into model records.

Status mapping (research §1.5/§6)::

    WAIT_BUYER_PAY, TRADE_NO_CREATE_PAY, PAY_PENDING, WAIT_PRE_AUTH_CONFIRM  → awaiting_payment
    WAIT_SELLER_SEND_GOODS, PAID_FORBID_CONSIGN                              → paid
    SELLER_CONSIGNED_PART, WAIT_BUYER_CONFIRM_GOODS, TRADE_BUYER_SIGNED      → shipped
    TRADE_FINISHED                                                           → completed
    TRADE_CLOSED (refunded after payment), TRADE_CLOSED_BY_TAOBAO (unpaid)   → closed

An unknown status rejects the trade (never guessed: that could turn an unpaid order into a
paid one); the page's other trades are kept.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors import identity, wire
from connectors.errors import BadResponse, Unavailable
from connectors.model import Order, OrderStatus
from connectors.taobao import localtime

LIST_METHOD = "taobao.trades.sold.increment.get"
DETAIL_METHOD = "taobao.trade.fullinfo.get"

TRADE_TYPES = (
    "fixed", "auction", "guarantee_trade", "step", "independent_simple_trade",
    "independent_shop_trade", "auto_delivery", "ec", "cod", "game_equipment", "shopex_trade",
    "netcn_trade", "external_trade", "instant_trade", "b2c_cod", "hotel_trade",
    "super_market_trade", "super_market_cod_trade", "taohua", "waimai", "o2o_offlinetrade",
    "nopaid", "eticket", "tmall_i18n", "insurance_plus", "finance", "pre_auth_type",
)  # fmt: skip
"""Every value TOP documents for the list APIs' ``type`` (the SDK's ``TradesSoldGetRequest``,
generated from TOP's metadata; the increment API points to the same list). Without ``type`` TOP
returns only guarantee_trade, auto_delivery, ec, cod and step, and its documentation says that
reading every trade takes all the values: a b2c_cod, instant_trade, O2O, Tmall Global
(tmall_i18n) or pre-authorised trade would otherwise be invisible."""

MESSAGE_FIELDS = ("buyer_message", "seller_memo", "seller_flag")
"""The fields CS103 needs that the list API may not return (only ``fullinfo`` surely does)."""

TRADE_FIELDS = ",".join(
    (
        "tid", "tid_str", "status", "created", "modified", "pay_time", "end_time",
        "buyer_nick", "buyer_open_uid", "payment", "has_buyer_message", *MESSAGE_FIELDS,
    )
)  # fmt: skip
"""``fields`` for both APIs. ``buyer_open_uid`` is returned only when ``buyer_nick`` is asked."""

STATUS = {
    "WAIT_BUYER_PAY": OrderStatus.AWAITING_PAYMENT,
    "TRADE_NO_CREATE_PAY": OrderStatus.AWAITING_PAYMENT,
    "PAY_PENDING": OrderStatus.AWAITING_PAYMENT,  # foreign card payment still confirming
    "WAIT_PRE_AUTH_CONFIRM": OrderStatus.AWAITING_PAYMENT,  # 0-yuan contract not yet confirmed
    "WAIT_SELLER_SEND_GOODS": OrderStatus.PAID,
    "PAID_FORBID_CONSIGN": OrderStatus.PAID,
    "SELLER_CONSIGNED_PART": OrderStatus.SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": OrderStatus.SHIPPED,  # cash on delivery: signed for, not finished
    "TRADE_FINISHED": OrderStatus.COMPLETED,
    "TRADE_CLOSED": OrderStatus.CLOSED,
    "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CLOSED,
}
MAX_FLAG = 5


class BuyerKey(enum.StrEnum):
    OPEN_UID = "open_uid"
    NICK = "nick"


@dataclass(frozen=True, slots=True)
class TradeList:
    """One page of ``trades.sold.increment.get``, newest modification first as TOP sorts it."""

    total_results: int
    trades: tuple[Mapping[str, Any], ...]

    def page_count(self, page_size: int) -> int:
        return math.ceil(self.total_results / page_size)


def trade_list(content: Mapping[str, Any], *, page_no: int, page_size: int) -> TradeList:
    """Read a list page. ``trades`` is omitted when a page is empty, which is only plausible
    for a page beyond ``total_results``; inside that range its absence is schema drift."""
    root = "trades_sold_increment_get_response"
    total = wire.integer(content, "total_results", root, low=0, high=10**9)
    wrapper = content.get("trades")
    if wrapper is None:
        if page_no <= math.ceil(total / page_size):
            raise BadResponse(f"missing although total_results={total}", field=f"{root}.trades")
        return TradeList(total_results=total, trades=())
    rows = wire.items(wrapper, "trade") if isinstance(wrapper, Mapping) else None
    if rows is None:
        raise BadResponse("expected an object {'trade': [...]}", field=f"{root}.trades")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise BadResponse("expected an object", field=f"{root}.trades.trade[{i}]")
    return TradeList(total_results=total, trades=tuple(rows))


def trade_detail(content: Mapping[str, Any]) -> Mapping[str, Any]:
    trade = content.get("trade")
    if not isinstance(trade, Mapping):
        raise BadResponse("missing or not an object", field="trade_fullinfo_get_response.trade")
    return trade


def tid(trade: Mapping[str, Any], where: str) -> str:
    """The trade id as a string. ``tid`` is an int64: never let it pass through a float."""
    text = trade.get("tid_str")
    if isinstance(text, str) and text.isdigit():
        return text
    value = wire.field(trade, "tid", where)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadResponse("expected an integer id", field=f"{where}.tid")
    return str(value)


def trade_key(trade: Mapping[str, Any]) -> str | None:
    """The trade id if it can be read, for a trade refused for another field."""
    return wire.lenient(lambda: tid(trade, "trade"))


def trade_buyer(trade: Mapping[str, Any], buyer_key: BuyerKey) -> str | None:
    """The trade's buyer if it can be read, for a trade refused for another field."""
    return wire.lenient(lambda: _buyer_id(trade, "trade", buyer_key))


def modified(trade: Mapping[str, Any], where: str) -> datetime:
    return localtime.parse(wire.field(trade, "modified", where), f"{where}.modified")


def needs_detail(trade: Mapping[str, Any]) -> bool:
    """Whether ``fullinfo.get`` must fill in what the list left out.

    Only trades that may carry a buyer message matter to the rules (CS103's subject is an
    order with a buyer message); ``has_buyer_message: false`` settles it without a call.
    """
    if trade.get("has_buyer_message") is False:
        return False
    return any(key not in trade for key in MESSAGE_FIELDS)


def with_detail(
    listed: Mapping[str, Any], detail: Mapping[str, Any], where: str
) -> Mapping[str, Any]:
    """The listed trade completed with the detail's message fields.

    The detail is read later than the list. If the trade changed in between, the detail is a
    complete, newer version and is returned instead, so a memo written later is never dated
    back onto the listed version. A detail *older* than the list (a lagging replica) cannot
    vouch for the listed version: the page is retried rather than guessed.
    """
    listed_at, detail_at = modified(listed, where), modified(detail, f"{where}(fullinfo)")
    if detail_at > listed_at:
        return detail
    if detail_at < listed_at:
        raise Unavailable(f"{where}: trade detail lags the list ({detail_at} < {listed_at})")
    merged = {key: value for key, value in listed.items() if key not in MESSAGE_FIELDS}
    merged.update({key: detail[key] for key in MESSAGE_FIELDS if key in detail})
    return merged


def _optional_time(trade: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = trade.get(key)
    return None if value in (None, "") else localtime.parse(value, f"{where}.{key}")


def _optional_text(trade: Mapping[str, Any], key: str, where: str) -> str | None:
    value = trade.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadResponse(f"expected a string, got {type(value).__name__}", field=f"{where}.{key}")
    return value or None


def _flag(trade: Mapping[str, Any], where: str) -> int:
    """``seller_flag`` 1–5 are colours, 0 or absent none. The colour tables of the read and
    write APIs disagree, so only "flagged or not" is relied on; a colour the platform adds
    later counts as flagged (capped to 5) instead of rejecting the page."""
    value = trade.get("seller_flag", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadResponse("expected a non-negative integer", field=f"{where}.seller_flag")
    return min(value, MAX_FLAG)


def _buyer_id(trade: Mapping[str, Any], where: str, buyer_key: BuyerKey) -> str:
    key = "buyer_open_uid" if buyer_key is BuyerKey.OPEN_UID else "buyer_nick"
    buyer = identity.shared_id(wire.required_string(trade, key, where))
    if buyer is None:
        raise BadResponse("must not be blank", field=f"{where}.{key}")
    return buyer


def order(trade: Mapping[str, Any], where: str, *, buyer_key: BuyerKey) -> Order:
    """One trade as an :class:`Order`. Fields CS103 needs that are absent read as none: call
    this only on a trade that :func:`needs_detail` no longer asks about."""
    status_text = wire.required_string(trade, "status", where)
    status = STATUS.get(status_text)
    if status is None:
        raise BadResponse(f"unknown trade status {status_text!r}", field=f"{where}.status")
    updated_at = modified(trade, where)
    paid_at = _optional_time(trade, "pay_time", where)
    if status is OrderStatus.PAID and paid_at is None:
        raise BadResponse(f"{status_text} without a pay time", field=f"{where}.pay_time")
    end_time = _optional_time(trade, "end_time", where)
    return Order(
        id=tid(trade, where),
        buyer_id=_buyer_id(trade, where, buyer_key),
        status=status,
        created_at=localtime.parse(wire.field(trade, "created", where), f"{where}.created"),
        updated_at=updated_at,
        paid_at=paid_at,
        # end_time is the closing time; without it the version's own time is the latest
        # moment the trade is known to have been closed.
        closed_at=(end_time or updated_at) if status is OrderStatus.CLOSED else None,
        buyer_message=_optional_text(trade, "buyer_message", where),
        seller_memo=_optional_text(trade, "seller_memo", where),
        seller_flag=_flag(trade, where),
        amount=wire.decimal(trade, "payment", where),
        currency="CNY",
    )
