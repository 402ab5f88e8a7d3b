"""The ``generic`` kind (shopwatch's own shop API, SPEC §5): no keys of its own, and its builder."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.base import Source, SourceConfig
from connectors.generic.client import GenericShopClient
from connectors.model import Stream

STREAMS = frozenset(Stream)
PAIRING_HINT = ""


@dataclass(frozen=True, kw_only=True)
class GenericOptions:
    """The generic API needs only the common keys."""


def build(config: SourceConfig[GenericOptions], stream: Stream) -> Source:
    return GenericShopClient(
        base_url=config.base_url,
        token=config.token,
        page_size=config.page_size,
        timeout=config.timeout,
        transport=config.transport,
    )
