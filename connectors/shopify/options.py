"""The ``shopify`` kind's own config keys and its builder.

``token_file`` holds the Admin API access token of a custom app with ``read_orders`` (plus
``read_all_orders`` to see orders older than 60 days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from connectors.base import SourceConfig
from connectors.model import Stream
from connectors.options import OptionError, required
from connectors.shopify.client import ShopifyClient
from connectors.shopify.normalize import BuyerKey, MemoSource, ShopifyRules
from connectors.shopify.source import ShopifyOrderSource

STREAMS = frozenset({Stream.ORDERS})
PAIRING_HINT = (
    "Shopify Inbox has no public chat API, so a Shopify shop reads its chat from a helpdesk: "
    'set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
_API_VERSION = re.compile(r"^\d{4}-\d{2}$")
_API_VERSION_MEANING = (
    'the Admin API version to call, e.g. "2025-07"; Shopify retires a version about a year '
    "after its release, so keep it current"
)


@dataclass(frozen=True, kw_only=True)
class ShopifyOptions:
    """Where the team writes what Shopify lacks (see :class:`ShopifyRules`)."""

    api_version: str = field(metadata=required(_API_VERSION_MEANING))
    memo_source: MemoSource = field(
        metadata=required(
            "Shopify orders have no seller memo, so name where your team writes it: "
            '"tags" (memo tags start with memo_tag_prefix, e.g. "memo:") or "note_attributes" '
            "(the note attribute named memo_attribute)"
        )
    )
    memo_tag_prefix: str | None = None
    memo_attribute: str | None = None
    flag_tag: str | None = None
    buyer_key: BuyerKey = BuyerKey.EMAIL
    message_attributes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _API_VERSION.match(self.api_version):
            raise OptionError("api_version", f"{self.api_version!r} is not {_API_VERSION_MEANING}")
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
    client = ShopifyClient(
        base_url=config.base_url,
        api_version=config.options.api_version,
        token=config.token,
        timeout=config.timeout,
    )
    return ShopifyOrderSource(
        client=client, rules=config.options.rules(), page_size=config.page_size
    )
