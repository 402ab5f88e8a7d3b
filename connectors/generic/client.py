"""One request attempt against the generic shop API (SPEC §5). No retries here."""

from __future__ import annotations

from datetime import datetime

import httpx

from connectors import wire
from connectors.generic import normalize
from connectors.http import TokenReader, get_json
from connectors.model import AgentPresence, Message, Order, Page, PresenceEvent

MAX_LIMIT = 500


class GenericShopClient:
    """Reads orders, messages and agent presence from a shop speaking SPEC §5."""

    def __init__(
        self,
        *,
        base_url: str,
        token: TokenReader,
        page_size: int = MAX_LIMIT,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._limit = max(1, min(page_size, MAX_LIMIT))
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._presence_supported = True
        self._events_supported = True

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}

    def _params(self, key: str, since: datetime, page_token: str | None) -> dict[str, str | int]:
        params: dict[str, str | int] = {key: wire.rfc3339(since), "limit": self._limit}
        if page_token:
            params["page_token"] = page_token
        return params

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        body, _ = await get_json(
            self._http,
            f"{self._base}/orders",
            what="GET /orders",
            params=self._params("updated_since", since, page_token),
            headers=self._headers(),
        )
        return normalize.orders_page(body)

    async def fetch_messages(self, since: datetime, page_token: str | None) -> Page[Message]:
        body, _ = await get_json(
            self._http,
            f"{self._base}/messages",
            what="GET /messages",
            params=self._params("since", since, page_token),
            headers=self._headers(),
        )
        return normalize.messages_page(body)

    async def fetch_presence_events(
        self, since: datetime, page_token: str | None
    ) -> Page[PresenceEvent] | None:
        if not self._events_supported:
            return None
        body, response = await get_json(
            self._http,
            f"{self._base}/presence",
            what="GET /presence",
            params=self._params("since", since, page_token),
            headers=self._headers(),
            allow_404=True,
        )
        if response.status_code == 404:
            self._events_supported = False  # SPEC §5: 404 = no event stream; sample /agents
            return None
        return normalize.presence_page(body)

    async def fetch_presence(self) -> list[AgentPresence] | None:
        if not self._presence_supported:
            return None
        body, response = await get_json(
            self._http,
            f"{self._base}/agents",
            what="GET /agents",
            headers=self._headers(),
            allow_404=True,
        )
        if response.status_code == 404:
            self._presence_supported = False  # SPEC §5: 404 = presence not reported
            return None
        return normalize.agents(body)

    async def aclose(self) -> None:
        await self._http.aclose()
