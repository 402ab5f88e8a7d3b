"""The ``woocommerce`` kind's own config keys (checked by ``check-config``) and its builder.

``token_file`` holds the REST API consumer key (``ck_…``), ``consumer_secret_file`` the
consumer secret (``cs_…``); a read-only key is enough.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, TypeVar

from connectors.base import SourceConfig
from connectors.model import OrderStatus, Stream
from connectors.options import fail, one_of
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.normalize import BuyerKey, WooRules
from connectors.woocommerce.source import WooCommerceOrderSource

E = TypeVar("E", bound=enum.StrEnum)

STREAMS = frozenset({Stream.ORDERS})
EXTRA_KEYS = frozenset(
    {"consumer_secret_file", "buyer_key", "status_map", "flag_meta_key", "memo_recheck_hours"}
    | {"consumer_secret"}  # accepted only to answer with where the secret belongs
)
PAIRING_HINT = (
    "WooCommerce has no chat, so a WooCommerce shop reads its chat from a helpdesk: "
    'set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
DEFAULT_MEMO_RECHECK_HOURS = 24
MAX_MEMO_RECHECK_HOURS = 7 * 24


def _status_map(extra: Mapping[str, Any]) -> dict[str, OrderStatus]:
    raw = extra.get("status_map", {})
    if not isinstance(raw, Mapping):
        fail("status_map", 'expected a table, e.g. status_map = { "shipped" = "shipped" }')
    statuses = ", ".join(s.value for s in OrderStatus)
    mapped = {}
    for name, value in raw.items():
        if value not in [s.value for s in OrderStatus]:
            fail(f"status_map.{name}", f"{value!r} is not one of {statuses}")
        mapped[str(name).removeprefix("wc-")] = OrderStatus(value)
    return mapped


def parse(extra: Mapping[str, Any]) -> tuple[WooRules, timedelta]:
    """The normalization rules and the memo follow-up period."""
    if "consumer_secret" in extra:
        fail(
            "consumer_secret",
            "secrets are never written in the config: put the consumer secret in a file only "
            "shopwatch can read and set consumer_secret_file to its path",
        )
    secret_file = extra.get("consumer_secret_file")
    if not isinstance(secret_file, str) or not secret_file.strip():
        fail(
            "consumer_secret_file",
            "required: the path of a file holding the REST API consumer secret (cs_…); "
            "token_file holds the consumer key (ck_…)",
        )
    flag_meta_key = extra.get("flag_meta_key")
    if flag_meta_key is not None and (not isinstance(flag_meta_key, str) or not flag_meta_key):
        fail("flag_meta_key", "expected the name of an order meta key")
    hours = extra.get("memo_recheck_hours", DEFAULT_MEMO_RECHECK_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int):
        fail("memo_recheck_hours", "expected a whole number of hours")
    if not 0 <= hours <= MAX_MEMO_RECHECK_HOURS:
        fail("memo_recheck_hours", f"must be 0–{MAX_MEMO_RECHECK_HOURS} (0 turns it off)")
    rules = WooRules(
        buyer_key=one_of(extra, "buyer_key", BuyerKey, BuyerKey.EMAIL),
        status_map=_status_map(extra),
        flag_meta_key=flag_meta_key,
    )
    return rules, timedelta(hours=hours)


def validate(extra: Mapping[str, Any]) -> None:
    parse(extra)


def build(config: SourceConfig, stream: Stream) -> WooCommerceOrderSource:
    rules, memo_recheck = parse(config.extra)
    if not config.base_url.lower().startswith("https://"):
        fail(
            "base_url",
            "WooCommerce accepts key and secret over plain HTTP only with OAuth 1.0a signing, "
            "which shopwatch does not do: use the shop's https:// address",
        )
    client = WooCommerceClient(
        base_url=config.base_url,
        consumer_key=config.token,
        consumer_secret=lambda: config.read_secret("consumer_secret_file"),
        timeout=config.timeout,
    )
    return WooCommerceOrderSource(
        client=client, rules=rules, page_size=config.page_size, memo_recheck=memo_recheck
    )
