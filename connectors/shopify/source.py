"""The Shopify orders stream: cursor paging plus the paid-at lookup.

One call of :meth:`ShopifyOrderSource.fetch_orders` reads one page of ``orders.json`` and then
reads ``transactions.json`` once for each order on it whose payment was taken and whose paid-at
time is not known yet (Shopify has no paid-at field). A paid-at time never changes once the
payment succeeded, so it is kept per order id and each order costs at most one extra request per
process lifetime. Every request is a single attempt; a failure fails the page, which the poller
retries with the same token (a 429 on the transactions reads is the usual reason, with a backfill
of many paid orders against the 40-request bucket).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any

from connectors.model import Order, Page
from connectors.shopify import normalize
from connectors.shopify.client import CallLimit, ShopifyClient
from connectors.shopify.normalize import ShopifyRules

MAX_PAGE_SIZE = 250
PAID_AT_CACHE_SIZE = 8192


class ShopifyOrderSource:
    """An :class:`connectors.base.OrderSource` over the Admin REST API."""

    def __init__(self, *, client: ShopifyClient, rules: ShopifyRules, page_size: int) -> None:
        self._client = client
        self._rules = rules
        self._limit = max(1, min(page_size, MAX_PAGE_SIZE))
        self._paid_at: OrderedDict[str, datetime] = OrderedDict()

    @property
    def call_limit(self) -> CallLimit | None:
        """How full the shop's API bucket was at the latest response."""
        return self._client.call_limit

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        response = await self._client.orders(
            updated_at_min=since, page_info=page_token, limit=self._limit
        )
        orders = []
        for i, raw in enumerate(normalize.order_rows(response.body)):
            where = f"orders[{i}]"
            paid_at = await self._paid_at_of(raw, where)
            orders.append(normalize.order(raw, where, self._rules, paid_at=paid_at))
        orders.sort(key=lambda order: (order.updated_at, order.id))
        return Page(items=tuple(orders), next_page_token=response.next_page_info)

    async def _paid_at_of(self, raw: Any, where: str) -> datetime | None:
        if not normalize.payment_taken(raw, where):
            return None
        order_id = normalize.id_of(raw, where)
        known = self._paid_at.get(order_id)
        if known is not None:
            return known
        paid_at = normalize.paid_at(await self._client.transactions(order_id))
        if paid_at is not None:
            self._paid_at[order_id] = paid_at
            if len(self._paid_at) > PAID_AT_CACHE_SIZE:
                self._paid_at.popitem(last=False)
        return paid_at

    async def aclose(self) -> None:
        await self._client.aclose()
