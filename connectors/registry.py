"""The explicit map from a config ``kind`` to the platform that serves it.

Every platform declares which streams it can serve, the type of its own config keys (a frozen
options dataclass the daemon's config builds, so ``check-config`` names a misspelt or wrong
key) and a builder. Adding a platform is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from connectors.base import OptionsT, Source, SourceConfig
from connectors.chatwoot import options as chatwoot
from connectors.files import options as files
from connectors.generic import options as generic
from connectors.model import Stream
from connectors.options import OptionError
from connectors.shopify import options as shopify
from connectors.taobao import options as taobao
from connectors.woocommerce import options as woocommerce

__all__ = ["KINDS", "Kind", "OptionError", "lookup"]


@dataclass(frozen=True, kw_only=True)
class Kind(Generic[OptionsT]):
    name: str
    streams: frozenset[Stream]
    options_type: type[OptionsT]
    """The kind's own keys: a frozen, keyword-only dataclass (see :mod:`connectors.options`)."""
    build: Callable[[SourceConfig[OptionsT], Stream], Source]
    pairing_hint: str = ""
    """Said when the kind is configured for a stream it cannot serve."""
    endpoint: bool = True
    """The kind reads a network endpoint, so the common ``base_url`` and ``token_file`` are
    required; a kind without one (``files``, a local directory) has no use for them and the
    config refuses them."""


KINDS: dict[str, Kind[Any]] = {
    kind.name: kind
    for kind in (
        Kind(
            name="generic",
            streams=generic.STREAMS,
            options_type=generic.GenericOptions,
            build=generic.build,
        ),
        Kind(
            name="taobao",
            streams=taobao.STREAMS,
            options_type=taobao.TaobaoOptions,
            build=taobao.build,
            pairing_hint=taobao.PAIRING_HINT,
        ),
        Kind(
            name="shopify",
            streams=shopify.STREAMS,
            options_type=shopify.ShopifyOptions,
            build=shopify.build,
            pairing_hint=shopify.PAIRING_HINT,
        ),
        Kind(
            name="woocommerce",
            streams=woocommerce.STREAMS,
            options_type=woocommerce.WooCommerceOptions,
            build=woocommerce.build,
            pairing_hint=woocommerce.PAIRING_HINT,
        ),
        Kind(
            name="chatwoot",
            streams=chatwoot.STREAMS,
            options_type=chatwoot.ChatwootOptions,
            build=chatwoot.build,
            pairing_hint=chatwoot.PAIRING_HINT,
        ),
        Kind(
            name="files",
            streams=files.STREAMS,
            options_type=files.FilesOptions,
            build=files.build,
            pairing_hint=files.PAIRING_HINT,
            endpoint=False,
        ),
    )
}


def lookup(name: str, stream: Stream) -> Kind[Any]:
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
