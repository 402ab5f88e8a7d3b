"""One request attempt against the Shopify Admin REST API. No retries here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from connectors import wire
from connectors.errors import BadResponse
from connectors.http import TokenReader, get_json

_CALL_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
NEAR_FULL_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class CallLimit:
    """``X-Shopify-Shop-Api-Call-Limit: 32/40``: requests in the leaky bucket / its size.

    Shopify answers 429 when the bucket overflows; this is exposed so the daemon can show how
    close a shop runs to that (the connector itself never waits or refuses on it).
    """

    used: int
    size: int

    @property
    def near_full(self) -> bool:
        return self.used >= self.size * NEAR_FULL_SHARE

    @classmethod
    def parse(cls, header: str | None) -> CallLimit | None:
        """The header's value, or ``None`` when absent or malformed (it is diagnostics only)."""
        match = _CALL_LIMIT.match(header or "")
        if match is None or int(match.group(2)) == 0:
            return None
        return cls(used=int(match.group(1)), size=int(match.group(2)))


@dataclass(frozen=True, slots=True)
class OrdersResponse:
    body: Any
    next_page_info: str | None
    """The cursor of the ``rel="next"`` link; ``None`` on the last page."""


def next_page_info(response: httpx.Response) -> str | None:
    """The ``page_info`` of the ``Link: <…>; rel="next"`` header (cursor paging, 2019-07+)."""
    link = response.links.get("next")
    if link is None:
        return None
    page_info: str | None = httpx.URL(link.get("url", "")).params.get("page_info")
    if not page_info:
        raise BadResponse("rel=next link without page_info", field="Link")
    return page_info


class ShopifyClient:
    """Reads orders and their transactions with an Admin API access token."""

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        token: TokenReader,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api = f"{base_url.rstrip('/')}/admin/api/{api_version}"
        self._token = token
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self.call_limit: CallLimit | None = None
        """The bucket as the latest response reported it."""

    def _headers(self) -> dict[str, str]:
        return {"X-Shopify-Access-Token": self._token(), "Accept": "application/json"}

    async def _get(
        self, path: str, what: str, params: dict[str, str | int] | None = None
    ) -> tuple[Any, httpx.Response]:
        body, response = await get_json(
            self._http, f"{self._api}{path}", what=what, params=params, headers=self._headers()
        )
        self.call_limit = CallLimit.parse(response.headers.get("X-Shopify-Shop-Api-Call-Limit"))
        return body, response

    async def orders(
        self, *, updated_at_min: datetime, page_info: str | None, limit: int
    ) -> OrdersResponse:
        """One page of orders updated at or after ``updated_at_min``, oldest update first.

        A ``page_info`` URL may carry only ``limit`` and ``fields``: the filters and the order
        travel inside the cursor. ``updated_at_min`` is sent in whole seconds, rounded down (the
        documented form; rounding down keeps it inclusive). ``order=updated_at asc`` is not in
        the documented parameters of this endpoint; nothing relies on it — every page of the
        cursor is read and each page is sorted here.
        """
        params: dict[str, str | int] = {"limit": limit}
        if page_info:
            params["page_info"] = page_info
        else:
            params.update(
                status="any",  # the default, "open", hides cancelled and archived orders
                updated_at_min=wire.rfc3339(updated_at_min.replace(microsecond=0)),
                order="updated_at asc",
            )
        body, response = await self._get("/orders.json", "GET orders.json", params)
        return OrdersResponse(body=body, next_page_info=next_page_info(response))

    async def transactions(self, order_id: str) -> Any:
        body, _ = await self._get(
            f"/orders/{order_id}/transactions.json", f"GET orders/{order_id}/transactions.json"
        )
        return body

    async def aclose(self) -> None:
        await self._http.aclose()
