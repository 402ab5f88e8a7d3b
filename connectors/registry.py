"""The explicit map from a config ``kind`` to the platform that serves it.

Every platform declares which streams it can serve, validates its own extra keys (so
``check-config`` names a misspelt one) and builds a source. Adding a platform is one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Source, SourceConfig
from connectors.chatwoot import options as chatwoot
from connectors.generic.client import GenericShopClient
from connectors.model import Stream
from connectors.options import OptionError
from connectors.shopify import options as shopify
from connectors.taobao import options as taobao
from connectors.woocommerce import options as woocommerce


@dataclass(frozen=True, kw_only=True)
class Kind:
    name: str
    streams: frozenset[Stream]
    build: Callable[[SourceConfig, Stream], Source]
    extra_keys: frozenset[str] = frozenset()
    validate_extra: Callable[[Mapping[str, Any]], None] = lambda extra: None
    pairing_hint: str = ""
    """Said when the kind is configured for a stream it cannot serve."""


def _build_generic(config: SourceConfig, stream: Stream) -> Source:
    return GenericShopClient(
        base_url=config.base_url,
        token=config.token,
        page_size=config.page_size,
        timeout=config.timeout,
    )


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    KINDS[kind.name] = kind


register(Kind(name="generic", streams=frozenset(Stream), build=_build_generic))
for platform, name in (
    (taobao, "taobao"),
    (shopify, "shopify"),
    (woocommerce, "woocommerce"),
    (chatwoot, "chatwoot"),
):
    register(
        Kind(
            name=name,
            streams=platform.STREAMS,
            build=platform.build,
            extra_keys=platform.EXTRA_KEYS,
            validate_extra=platform.validate,
            pairing_hint=platform.PAIRING_HINT,
        )
    )


def lookup(name: str, stream: Stream) -> Kind:
    """The kind serving ``stream``; an unknown or impossible one says what to do instead."""
    kind = KINDS.get(name)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise OptionError("kind", f"unknown connector kind {name!r}; known kinds: {known}")
    if stream not in kind.streams:
        able = ", ".join(sorted(k.name for k in KINDS.values() if stream in k.streams))
        hint = f" {kind.pairing_hint}" if kind.pairing_hint else ""
        raise OptionError(
            "kind",
            f"{name!r} cannot serve the {stream.value} stream.{hint} Kinds that can: {able}",
        )
    return kind


def validate_extra(kind: Kind, extra: Mapping[str, Any]) -> None:
    for key in extra:
        if key not in kind.extra_keys:
            allowed = ", ".join(sorted(kind.extra_keys)) or "none"
            raise OptionError(key, f"unknown key for kind {kind.name!r} (its own keys: {allowed})")
    kind.validate_extra(extra)
