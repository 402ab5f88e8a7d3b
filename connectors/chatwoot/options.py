"""The ``chatwoot`` kind's own config keys (checked by ``check-config``) and its builder.

``token_file`` holds the access token of a Chatwoot user (Profile Settings → Access Token)
who can see the shop's conversations — an administrator, or an agent in every inbox read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import SourceConfig
from connectors.chatwoot.client import ChatwootClient
from connectors.chatwoot.normalize import BuyerKey
from connectors.chatwoot.source import ChatwootChatSource
from connectors.model import Stream
from connectors.options import fail

STREAMS = frozenset({Stream.CHAT})
EXTRA_KEYS = frozenset({"account_id", "buyer_key", "inbox_id"})
PAIRING_HINT = (
    "Chatwoot has no orders, so a shop chatting on Chatwoot reads its orders from its shop "
    'platform: set [shops.orders] kind = "shopify", "woocommerce", "taobao" or "generic".'
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatwootSettings:
    account_id: int
    buyer_key: BuyerKey
    inbox_id: int | None


def _positive_int(extra: Mapping[str, Any], key: str) -> int | None:
    value = extra.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(key, "expected a positive whole number (the number in Chatwoot's URLs)")
    return value


def parse(extra: Mapping[str, Any]) -> ChatwootSettings:
    account_id = _positive_int(extra, "account_id")
    if account_id is None:
        fail("account_id", "required: the number after /app/accounts/ in Chatwoot's URLs")
    buyer_key = extra.get("buyer_key")
    if buyer_key not in [key.value for key in BuyerKey]:
        fail(
            "buyer_key",
            ("required" if buyer_key is None else f"{buyer_key!r} is not valid")
            + ": the contact field that identifies the buyer the same way your order source "
            'does — "email" (Shopify and WooCommerce by default), "phone", "identifier" '
            '(when your site sets it to the shop\'s customer id) or "id" (Chatwoot-only: '
            "never pairs with orders)",
        )
    return ChatwootSettings(
        account_id=account_id,
        buyer_key=BuyerKey(buyer_key),
        inbox_id=_positive_int(extra, "inbox_id"),
    )


def validate(extra: Mapping[str, Any]) -> None:
    parse(extra)


def build(config: SourceConfig, stream: Stream) -> ChatwootChatSource:
    settings = parse(config.extra)
    client = ChatwootClient(
        base_url=config.base_url,
        account_id=settings.account_id,
        token=config.token,
        timeout=config.timeout,
    )
    return ChatwootChatSource(
        client=client, buyer_key=settings.buyer_key, inbox_id=settings.inbox_id
    )
