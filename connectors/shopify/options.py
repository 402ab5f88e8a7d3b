"""The ``shopify`` kind's own config keys and its builder.

``token_file`` holds the Admin API access token of an app with ``read_orders`` (plus
``read_all_orders`` to see orders older than 60 days); abandoned checkouts need nothing more.
With ``buyer_key = "email"`` or ``"phone"`` the app also needs protected customer data access
to those fields (level 2), or every buyer reads as unidentified (see ``docs/platforms.md``).

``api_version`` defaults to the version the queries are written for
(:data:`connectors.shopify.versions.PINNED`). A version within three months of its end of
support, or past it, is accepted with a warning, logged wherever the config is read:
``check-config``, start-up and reload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from connectors.base import SourceConfig
from connectors.model import Stream
from connectors.options import OptionError, required
from connectors.shopify import versions
from connectors.shopify.client import ShopifyClient
from connectors.shopify.normalize import BuyerKey, MemoSource, ShopifyRules
from connectors.shopify.source import ShopifyOrderSource

STREAMS = frozenset({Stream.ORDERS})
PAIRING_HINT = (
    "Shopify Inbox has no public chat API, so a Shopify shop reads its chat from a helpdesk: "
    'set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
MAX_CHECKOUT_LOOKBACK = timedelta(days=7)
PACE_SHARE = 0.5
"""At most this share of the request timeout is spent waiting for the cost bucket within one
fetch; a longer wait is handed to the poller as rate limited."""


@dataclass(frozen=True, kw_only=True)
class ShopifyOptions:
    """Where the team writes what Shopify lacks (see :class:`ShopifyRules`), how buyers are
    identified, and what is read."""

    memo_source: MemoSource = field(
        metadata=required(
            "Shopify orders have no seller memo, so name where your team writes it: "
            '"tags" (memo tags start with memo_tag_prefix, e.g. "memo:") or "note_attributes" '
            "(the note attribute named memo_attribute)"
        )
    )
    api_version: str = versions.PINNED
    memo_tag_prefix: str | None = None
    memo_attribute: str | None = None
    flag_tag: str | None = None
    buyer_key: BuyerKey = BuyerKey.EMAIL
    message_attributes: tuple[str, ...] = ()
    abandoned_checkouts: bool = True
    """Read abandoned checkouts as orders awaiting payment (CS101 judges them)."""
    checkout_lookback: timedelta = timedelta(hours=1)
    """How far before the watermark checkouts are listed again: Shopify lists a checkout as
    abandoned only some time after its last change."""

    def __post_init__(self) -> None:
        try:
            versions.release(self.api_version)
        except ValueError as exc:
            raise OptionError("api_version", str(exc)) from None
        versions.warn_if_retiring(self.api_version)
        if self.checkout_lookback > MAX_CHECKOUT_LOOKBACK:
            raise OptionError("checkout_lookback", "at most 7d: every poll reads this far back")
        if self.memo_source is MemoSource.TAGS:
            if self.memo_attribute is not None:
                raise OptionError(
                    "memo_attribute", 'applies only to memo_source = "note_attributes"'
                )
            if self.memo_tag_prefix is None:
                raise OptionError("memo_tag_prefix", 'required by memo_source = "tags"')
        else:
            if self.memo_tag_prefix is not None:
                raise OptionError("memo_tag_prefix", 'applies only to memo_source = "tags"')
            if self.memo_attribute is None:
                raise OptionError("memo_attribute", 'required by memo_source = "note_attributes"')
            if self.memo_attribute in self.message_attributes:
                raise OptionError(
                    "message_attributes",
                    f"{self.memo_attribute!r} is the memo, not a buyer message",
                )

    def rules(self) -> ShopifyRules:
        return ShopifyRules(
            memo_source=self.memo_source,
            memo_tag_prefix=self.memo_tag_prefix or "",
            memo_attribute=self.memo_attribute or "",
            flag_tag=self.flag_tag,
            buyer_key=self.buyer_key,
            message_attributes=self.message_attributes,
        )


def build(config: SourceConfig[ShopifyOptions], stream: Stream) -> ShopifyOrderSource:
    options = config.options
    client = ShopifyClient(
        base_url=config.base_url,
        api_version=options.api_version,
        token=config.token,
        timeout=config.timeout,
        transport=config.transport,
    )
    return ShopifyOrderSource(
        client=client,
        rules=options.rules(),
        page_size=config.page_size,
        abandoned_checkouts=options.abandoned_checkouts,
        checkout_lookback=options.checkout_lookback,
        max_pace=config.timeout * PACE_SHARE,
    )
