"""The ``taobao`` kind's own config keys (checked by ``check-config``) and its builder.

The seller's session (OAuth access token) is the common ``token_file``; the app secret is a
second secret, read from ``app_secret_file`` on every request so a rotated file is picked up.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from connectors.base import SourceConfig
from connectors.model import Stream
from connectors.options import fail, one_of
from connectors.taobao.client import TaobaoClient
from connectors.taobao.normalize import BuyerKey
from connectors.taobao.signing import SignMethod
from connectors.taobao.source import TaobaoOrderSource

E = TypeVar("E", bound=enum.StrEnum)

STREAMS = frozenset({Stream.ORDERS})
EXTRA_KEYS = frozenset(
    {"app_key", "app_secret_file", "sign_method", "buyer_key", "window_minutes", "trade_types"}
    | {"app_secret"}  # accepted only to answer with where the secret belongs
)
PAIRING_HINT = (
    "Taobao has no chat API open to new apps, so a Taobao shop reads its chat from another "
    'source: set [shops.chat] kind = "chatwoot" (or "generic" for your own chat bridge).'
)
DEFAULT_WINDOW_MINUTES = 30  # what the TOP docs advise
MAX_WINDOW_MINUTES = 24 * 60  # what TOP accepts


@dataclass(frozen=True, slots=True, kw_only=True)
class TaobaoSettings:
    app_key: str
    sign_method: SignMethod
    buyer_key: BuyerKey
    window: timedelta
    trade_types: str | None


def parse(extra: Mapping[str, Any]) -> TaobaoSettings:
    if "app_secret" in extra:
        fail(
            "app_secret",
            "secrets are never written in the config: put the app secret in a file only "
            "shopwatch can read and set app_secret_file to its path",
        )
    required = {
        "app_key": "the App Key of your Taobao Open Platform app",
        "app_secret_file": "the path of a file holding the app's App Secret",
    }
    for key, meaning in required.items():
        value = extra.get(key)
        if not isinstance(value, str) or not value.strip():
            fail(key, f"required: {meaning}")
    sign_method = one_of(extra, "sign_method", SignMethod, SignMethod.MD5)
    buyer_key = one_of(extra, "buyer_key", BuyerKey, BuyerKey.OPEN_UID)
    minutes = extra.get("window_minutes", DEFAULT_WINDOW_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        fail("window_minutes", "expected a whole number of minutes")
    if not 1 <= minutes <= MAX_WINDOW_MINUTES:
        fail("window_minutes", f"must be 1–{MAX_WINDOW_MINUTES} (TOP allows at most one day)")
    trade_types = extra.get("trade_types")
    if trade_types is not None and (
        not isinstance(trade_types, list)
        or not trade_types
        or not all(isinstance(t, str) and t.strip() for t in trade_types)
    ):
        fail("trade_types", 'expected a non-empty list of TOP trade types, e.g. ["fixed"]')
    return TaobaoSettings(
        app_key=extra["app_key"].strip(),
        sign_method=sign_method,
        buyer_key=buyer_key,
        window=timedelta(minutes=minutes),
        trade_types=",".join(t.strip() for t in trade_types) if trade_types else None,
    )


def validate(extra: Mapping[str, Any]) -> None:
    parse(extra)


def build(config: SourceConfig, stream: Stream) -> TaobaoOrderSource:
    settings = parse(config.extra)
    client = TaobaoClient(
        gateway_url=config.base_url,
        app_key=settings.app_key,
        app_secret=lambda: config.read_secret("app_secret_file"),
        session=config.token,
        sign_method=settings.sign_method,
        timeout=config.timeout,
    )
    return TaobaoOrderSource(
        client=client,
        buyer_key=settings.buyer_key,
        window=settings.window,
        page_size=config.page_size,
        trade_types=settings.trade_types,
    )
