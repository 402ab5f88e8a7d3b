"""The ``chatwoot`` kind's own config keys and its builder.

``token_file`` holds the access token of a Chatwoot user (Profile Settings → Access Token)
who can see the shop's conversations — an administrator, or an agent in every inbox read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.base import SourceConfig
from connectors.chatwoot.client import ChatwootClient
from connectors.chatwoot.normalize import BuyerKey
from connectors.chatwoot.source import ChatwootChatSource
from connectors.model import Stream
from connectors.options import OptionError, required

STREAMS = frozenset({Stream.CHAT})
PAIRING_HINT = (
    "Chatwoot has no orders, so a shop chatting on Chatwoot reads its orders from its shop "
    'platform: set [shops.orders] kind = "shopify", "woocommerce", "taobao" or "generic".'
)


@dataclass(frozen=True, kw_only=True)
class ChatwootOptions:
    account_id: int = field(metadata=required("the number after /app/accounts/ in Chatwoot's URLs"))
    buyer_key: BuyerKey = field(
        metadata=required(
            "the contact field that identifies the buyer the same way your order source "
            'does — "email" (Shopify and WooCommerce by default), "phone", "identifier" '
            '(when your site sets it to the shop\'s customer id) or "id" (Chatwoot-only: '
            "never pairs with orders)"
        )
    )
    inbox_id: int | None = None
    """Read only this inbox; unset reads every inbox the token's user can see."""

    def __post_init__(self) -> None:
        for key, value in (("account_id", self.account_id), ("inbox_id", self.inbox_id)):
            if value is not None and value < 1:
                raise OptionError(
                    key, "expected a positive whole number (the number in Chatwoot's URLs)"
                )


def build(config: SourceConfig[ChatwootOptions], stream: Stream) -> ChatwootChatSource:
    options = config.options
    client = ChatwootClient(
        base_url=config.base_url,
        account_id=options.account_id,
        token=config.token,
        timeout=config.timeout,
        transport=config.transport,
    )
    return ChatwootChatSource(client=client, buyer_key=options.buyer_key, inbox_id=options.inbox_id)
