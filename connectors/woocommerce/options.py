"""The ``woocommerce`` kind's own config keys and its builder.

``token_file`` holds the REST API consumer key (``ck_…``), ``consumer_secret_file`` the
consumer secret (``cs_…``); a read-only key is enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from connectors.base import SourceConfig
from connectors.model import OrderStatus, Stream
from connectors.options import OptionError, required
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.normalize import BuyerKey, WooRules
from connectors.woocommerce.source import WooCommerceOrderSource

STREAMS = frozenset({Stream.ORDERS})
PAIRING_HINT = (
    "WooCommerce has no chat, so a WooCommerce shop reads its chat from a helpdesk: "
    'set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
DEFAULT_MEMO_RECHECK_HOURS = 24
MAX_MEMO_RECHECK_HOURS = 7 * 24


@dataclass(frozen=True, kw_only=True)
class WooCommerceOptions:
    consumer_secret_file: str = field(
        metadata=required(
            "the path of a file holding the REST API consumer secret (cs_…); "
            "token_file holds the consumer key (ck_…)"
        )
    )
    buyer_key: BuyerKey = BuyerKey.EMAIL
    status_map: Mapping[str, OrderStatus] = field(default_factory=dict)
    """Statuses plugins add (and overrides), e.g. ``{ "awaiting-shipment" = "paid" }``; a
    ``wc-`` prefix is ignored."""
    flag_meta_key: str | None = None
    """An order meta key whose truthy value marks the order flagged (WooCommerce has no flag)."""
    memo_prefix: str | None = None
    """When set, the seller memo is a private note starting with it, whoever wrote it (for
    memos written through the REST API, and admins not in English); see ``normalize``."""
    memo_recheck_hours: int = DEFAULT_MEMO_RECHECK_HOURS
    """How long after payment the notes of a paid order without a memo are read again."""

    def __post_init__(self) -> None:
        if not 0 <= self.memo_recheck_hours <= MAX_MEMO_RECHECK_HOURS:
            raise OptionError(
                "memo_recheck_hours", f"must be 0–{MAX_MEMO_RECHECK_HOURS} (0 turns it off)"
            )

    def rules(self) -> WooRules:
        return WooRules(
            buyer_key=self.buyer_key,
            status_map={name.removeprefix("wc-"): s for name, s in self.status_map.items()},
            flag_meta_key=self.flag_meta_key,
            memo_prefix=self.memo_prefix,
        )


def build(config: SourceConfig[WooCommerceOptions], stream: Stream) -> WooCommerceOrderSource:
    if not config.base_url.lower().startswith("https://"):
        raise OptionError(
            "base_url",
            "WooCommerce accepts key and secret over plain HTTP only with OAuth 1.0a signing, "
            "which shopwatch does not do: use the shop's https:// address",
        )
    client = WooCommerceClient(
        base_url=config.base_url,
        consumer_key=config.token,
        consumer_secret=lambda: config.read_secret("consumer_secret_file"),
        timeout=config.timeout,
        transport=config.transport,
    )
    return WooCommerceOrderSource(
        client=client,
        rules=config.options.rules(),
        page_size=config.page_size,
        memo_recheck=timedelta(hours=config.options.memo_recheck_hours),
    )
