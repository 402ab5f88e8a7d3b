"""The ``taobao`` kind's own config keys and its builder.

The seller's session (OAuth access token) is the common ``token_file``; the app secret is a
second secret, read from ``app_secret_file`` on every request so a rotated file is picked up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from connectors.base import SourceConfig
from connectors.model import Stream
from connectors.options import OptionError, required
from connectors.taobao.client import TaobaoClient
from connectors.taobao.normalize import TRADE_TYPES, BuyerKey
from connectors.taobao.signing import SignMethod
from connectors.taobao.source import TaobaoOrderSource

STREAMS = frozenset({Stream.ORDERS})
PAIRING_HINT = (
    "Taobao has no chat API open to new apps, so a Taobao shop reads its chat from another "
    'source: set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
DEFAULT_WINDOW_MINUTES = 30  # what the TOP docs advise
MAX_WINDOW_MINUTES = 24 * 60  # what TOP accepts


@dataclass(frozen=True, kw_only=True)
class TaobaoOptions:
    app_key: str = field(metadata=required("the App Key of your Taobao Open Platform app"))
    app_secret_file: str = field(
        metadata=required("the path of a file holding the app's App Secret")
    )
    sign_method: SignMethod = SignMethod.MD5
    buyer_key: BuyerKey = BuyerKey.OPEN_UID
    window_minutes: int = DEFAULT_WINDOW_MINUTES
    """The span of one ``taobao.trades.sold.increment.get`` window."""
    trade_types: tuple[str, ...] = TRADE_TYPES
    """TOP's ``type`` parameter; unset sends every documented type (TOP's own default reads
    only five of them)."""

    def __post_init__(self) -> None:
        if not 1 <= self.window_minutes <= MAX_WINDOW_MINUTES:
            raise OptionError(
                "window_minutes", f"must be 1–{MAX_WINDOW_MINUTES} (TOP allows at most one day)"
            )
        if not self.trade_types:
            raise OptionError(
                "trade_types", 'expected a non-empty list of TOP trade types, e.g. ["fixed"]'
            )

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


def build(config: SourceConfig[TaobaoOptions], stream: Stream) -> TaobaoOrderSource:
    options = config.options
    client = TaobaoClient(
        gateway_url=config.base_url,
        app_key=options.app_key,
        app_secret=lambda: config.read_secret("app_secret_file"),
        session=config.token,
        sign_method=options.sign_method,
        timeout=config.timeout,
        transport=config.transport,
    )
    return TaobaoOrderSource(
        client=client,
        buyer_key=options.buyer_key,
        window=options.window,
        page_size=config.page_size,
        trade_types=options.trade_types,
    )
