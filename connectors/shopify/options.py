"""The ``shopify`` kind's own config keys (checked by ``check-config``) and its builder.

``token_file`` holds the Admin API access token of a custom app with ``read_orders`` (plus
``read_all_orders`` to see orders older than 60 days).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from connectors.base import SourceConfig
from connectors.model import Stream
from connectors.options import fail, one_of
from connectors.shopify.client import ShopifyClient
from connectors.shopify.normalize import BuyerKey, MemoSource, ShopifyRules
from connectors.shopify.source import ShopifyOrderSource

E = TypeVar("E", bound=enum.StrEnum)

STREAMS = frozenset({Stream.ORDERS})
EXTRA_KEYS = frozenset(
    {
        "api_version", "memo_source", "memo_tag_prefix", "memo_attribute", "flag_tag",
        "buyer_key", "message_attributes",
    }
)  # fmt: skip
PAIRING_HINT = (
    "Shopify Inbox has no public chat API, so a Shopify shop reads its chat from a helpdesk: "
    'set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
_API_VERSION = re.compile(r"^\d{4}-\d{2}$")


def _text(extra: Mapping[str, Any], key: str, *, required_because: str | None) -> str | None:
    value = extra.get(key)
    if value is None and required_because is None:
        return None
    if not isinstance(value, str) or not value.strip():
        fail(key, f"required {required_because}" if value is None else "expected non-empty text")
    return value.strip()


def _memo_place(extra: Mapping[str, Any]) -> tuple[MemoSource, str, str]:
    """Where the team writes the seller memo: (source, tag prefix, attribute name)."""
    if "memo_source" not in extra:
        fail(
            "memo_source",
            "required: Shopify orders have no seller memo, so name where your team writes it: "
            '"tags" (memo tags start with memo_tag_prefix, e.g. "memo:") or "note_attributes" '
            "(the note attribute named memo_attribute)",
        )
    source = one_of(extra, "memo_source", MemoSource, None)
    if source is MemoSource.TAGS:
        if "memo_attribute" in extra:
            fail("memo_attribute", 'applies only to memo_source = "note_attributes"')
        prefix = _text(extra, "memo_tag_prefix", required_because='by memo_source = "tags"')
        return source, prefix or "", ""
    if "memo_tag_prefix" in extra:
        fail("memo_tag_prefix", 'applies only to memo_source = "tags"')
    name = _text(extra, "memo_attribute", required_because='by memo_source = "note_attributes"')
    return source, "", name or ""


def parse(extra: Mapping[str, Any]) -> ShopifyRules:
    version = extra.get("api_version")
    if not isinstance(version, str) or not _API_VERSION.match(version):
        fail(
            "api_version",
            'required: the Admin API version to call, e.g. "2025-07"; Shopify retires a '
            "version about a year after its release, so keep it current",
        )
    memo_source, memo_tag_prefix, memo_attribute = _memo_place(extra)
    message_attributes = extra.get("message_attributes", [])
    if not isinstance(message_attributes, list) or not all(
        isinstance(name, str) and name.strip() for name in message_attributes
    ):
        fail("message_attributes", "expected a list of note attribute names")
    if memo_attribute and memo_attribute in message_attributes:
        fail("message_attributes", f"{memo_attribute!r} is the memo, not a buyer message")
    return ShopifyRules(
        memo_source=memo_source,
        memo_tag_prefix=memo_tag_prefix,
        memo_attribute=memo_attribute,
        flag_tag=_text(extra, "flag_tag", required_because=None),
        buyer_key=one_of(extra, "buyer_key", BuyerKey, BuyerKey.EMAIL),
        message_attributes=tuple(name.strip() for name in message_attributes),
    )


def validate(extra: Mapping[str, Any]) -> None:
    parse(extra)


def build(config: SourceConfig, stream: Stream) -> ShopifyOrderSource:
    rules = parse(config.extra)
    client = ShopifyClient(
        base_url=config.base_url,
        api_version=config.extra["api_version"],
        token=config.token,
        timeout=config.timeout,
    )
    return ShopifyOrderSource(client=client, rules=rules, page_size=config.page_size)
