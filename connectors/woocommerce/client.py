"""One request attempt against the WooCommerce REST API v3. No retries here."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.errors import BadResponse
from connectors.http import TokenReader, get_json

GMT_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True, slots=True)
class OrdersResponse:
    body: Any
    total_pages: int


def modified_after(since: datetime) -> str:
    """``since`` as WooCommerce wants it with ``dates_are_gmt=true``: GMT without an offset,
    one second early — WordPress date queries may treat ``after`` as exclusive, and an order
    read twice is de-duplicated downstream while an order missed is lost."""
    moment = since.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return moment.strftime(GMT_FORMAT)


def total_pages(response: httpx.Response) -> int:
    value = response.headers.get("X-WP-TotalPages")
    if value is None or not value.strip().isdigit():
        raise BadResponse(f"expected a page count, got {value!r}", field="X-WP-TotalPages")
    return int(value)


class WooCommerceClient:
    """Reads orders and order notes with a REST API consumer key and secret.

    HTTP Basic over HTTPS, as WooCommerce documents. The alternative of passing the key and
    secret as query parameters is not used: secrets in URLs end up in logs.
    """

    def __init__(
        self,
        *,
        base_url: str,
        consumer_key: TokenReader,
        consumer_secret: TokenReader,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api = f"{base_url.rstrip('/')}/wp-json/wc/v3"
        self._key = consumer_key
        self._secret = consumer_secret
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    def _headers(self) -> dict[str, str]:
        credentials = base64.b64encode(f"{self._key()}:{self._secret()}".encode()).decode()
        return {"Authorization": f"Basic {credentials}", "Accept": "application/json"}

    async def orders(
        self, *, since: datetime, page: int, per_page: int, status: str = "any"
    ) -> OrdersResponse:
        """One page of the orders modified at or after ``since``, oldest *created* first.

        ``status="any"`` lists every status but the trash (WooCommerce turns "any" into a
        post-status query that leaves trashed orders out); ``status="trash"`` lists the trash.

        Sorted by creation rather than modification: the v3 docs list no ``orderby=modified``.
        Under that order an order modified while we page stays where it was, and a newly
        matching one can only push others to later pages, so paging may repeat an order but
        never skips one.
        """
        body, response = await get_json(
            self._http,
            f"{self._api}/orders",
            what="GET orders",
            params={
                "status": status,
                "modified_after": modified_after(since),
                "dates_are_gmt": "true",
                "orderby": "date",
                "order": "asc",
                "page": page,
                "per_page": per_page,
            },
            headers=self._headers(),
        )
        return OrdersResponse(body=body, total_pages=total_pages(response))

    async def notes(self, order_id: str) -> Any:
        """The order's admin-only notes (``customer_note = false``), system notes included."""
        body, _ = await get_json(
            self._http,
            f"{self._api}/orders/{order_id}/notes",
            what=f"GET orders/{order_id}/notes",
            params={"type": "internal"},
            headers=self._headers(),
        )
        return body

    async def aclose(self) -> None:
        await self._http.aclose()
