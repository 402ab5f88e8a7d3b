"""What the poller needs from a connector: a page of orders, messages or presence.

A source makes exactly one request attempt per call and raises a
:class:`connectors.errors.ConnectorError` on failure. Paging is the source's own business:
the poller hands back the opaque ``page_token`` it was given.

A source is built from a :class:`SourceConfig`: the common keys of its stream table plus the
kind's own keys, already read into the kind's typed options (see :mod:`connectors.options`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar, runtime_checkable

import httpx

from connectors.http import TokenReader
from connectors.model import AgentPresence, Message, Order, Page, PresenceEvent


class OrderSource(Protocol):
    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        """Orders updated at or after ``since`` (inclusive), ascending by updated_at then id."""
        ...

    async def aclose(self) -> None: ...


class ChatSource(Protocol):
    async def fetch_messages(self, since: datetime, page_token: str | None) -> Page[Message]:
        """Messages sent at or after ``since`` (inclusive), ascending by sent_at then id."""
        ...

    async def fetch_presence(self) -> list[AgentPresence] | None:
        """Every agent's current presence, or ``None`` when the platform does not report it."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PresenceEventSource(Protocol):
    """A chat source that may report presence as an event stream (SPEC §5 ``/presence``),
    read with the same paging, watermark and re-read overlap as its messages."""

    async def fetch_presence_events(
        self, since: datetime, page_token: str | None
    ) -> Page[PresenceEvent] | None:
        """Events at or after ``since`` (inclusive), ascending by ``at`` then id; ``None``
        when the platform has no event stream (then :meth:`ChatSource.fetch_presence` is
        sampled on every poll instead)."""
        ...


@runtime_checkable
class ReportsBuyerIdentity(Protocol):
    """An order source that can tell when the platform withholds the buyer's identity (the
    configured ``buyer_key`` absent from every record of a page), e.g. Shopify without
    protected customer data access."""

    @property
    def identity_problem(self) -> str | None:
        """What the latest page said, with the fix; ``None`` while buyers are identified."""
        ...


Source = OrderSource | ChatSource


OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True, kw_only=True)
class SourceConfig(Generic[OptionsT]):
    """What every source is built from: the common keys plus the kind's own typed ``options``."""

    kind: str
    base_url: str
    token: TokenReader
    timeout: float
    page_size: int
    options: OptionsT
    read_secret: Callable[[str], str] = field(default=lambda name: "")
    """Reads a further secret named by a ``*_file`` option (e.g. ``app_secret_file``)."""
    transport: httpx.AsyncBaseTransport | None = None
    """The connection pool to use (shared by the sources of a host, see
    :class:`connectors.http.HostPools`); ``None``: the client's own."""
