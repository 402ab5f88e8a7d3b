"""The Taobao orders stream: modification windows, backwards paging and the detail top-up.

One call of :meth:`TaobaoOrderSource.fetch_orders` lists one page of
``taobao.trades.sold.increment.get`` (see :mod:`cursor` for the window and paging order) and
then calls ``taobao.trade.fullinfo.get`` once for each listed trade that may carry a buyer
message the list did not return. Every request is a single attempt; if any fails the whole
page fails and the poller retries it with the same token. Details already read are kept by
``(tid, modified)``, so a retried page, or the overlap window re-read by the next poll, does
not pay for them again. A trade that does not read (an unknown status, a paid status without
a pay time, a missing id) is refused alone (``Page.rejected``, with its id where readable) and
the page's other trades are kept.

**Bans.** TOP answers an exhausted call limit with a ban of N seconds (code 7 and its kin:
"This ban will last for N more seconds"; N reaches tens of thousands of seconds when the app's
daily quota is spent) and a trade-service rejection with three minutes. The source remembers
the end of the latest ban and, until then, fails every fetch at once with a
:class:`~connectors.errors.RateLimited` carrying the seconds left and the end in Beijing time,
without calling TOP: a poll during a long ban costs no call and says until when it waits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors import wire
from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse, RateLimited
from connectors.model import Order, Page, Rejected
from connectors.taobao import localtime, normalize
from connectors.taobao.client import TaobaoClient
from connectors.taobao.cursor import Cursor
from connectors.taobao.normalize import BuyerKey

MAX_PAGE_SIZE = 100
DETAIL_CACHE_SIZE = 4096


class _DetailFailed(Exception):
    """A ``fullinfo`` answer that does not read: the request's failure, not the trade's."""

    def __init__(self, error: BadResponse) -> None:
        super().__init__(str(error))
        self.error = error


class TaobaoOrderSource:
    """An :class:`connectors.base.OrderSource` over a seller's TOP session."""

    def __init__(
        self,
        *,
        client: TaobaoClient,
        buyer_key: BuyerKey,
        window: timedelta,
        page_size: int,
        trade_types: tuple[str, ...] = normalize.TRADE_TYPES,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._buyer_key = buyer_key
        self._window = window
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._trade_types = ",".join(trade_types)
        self._clock = clock
        self._details: OrderedDict[tuple[str, str], Mapping[str, Any]] = OrderedDict()
        self._banned_until: datetime | None = None

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        if page_token:
            cursor: Cursor | None = Cursor.decode(page_token)
        else:
            cursor = Cursor.first(since, self._clock(), self._window)
        if cursor is None:
            return Page(items=(), next_page_token=None)
        page_no = cursor.page_no or 1
        listing = await self._list(cursor, page_no)
        page_count = listing.page_count(self._page_size)
        if cursor.page_no is None and page_count > 1:
            # Page 1 of a multi-page window is read again last, after the older pages.
            return Page(items=(), next_page_token=cursor.at_page(page_count).encode())
        orders: list[Order] = []
        rejected: list[Rejected] = []
        for i, trade in enumerate(listing.trades):
            read = await self._order(trade, f"trades.trade[{i}]")
            if isinstance(read, Rejected):
                rejected.append(read)
            else:
                orders.append(read)
        orders.sort(key=lambda order: (order.updated_at, order.id))
        return Page(
            items=tuple(orders),
            next_page_token=self._after(cursor, page_no),
            rejected=tuple(rejected),
        )

    def _after(self, cursor: Cursor, page_no: int) -> str | None:
        if page_no > 1:
            return cursor.at_page(page_no - 1).encode()
        following = cursor.next_window(self._window)
        return following.encode() if following else None

    async def _list(self, cursor: Cursor, page_no: int) -> normalize.TradeList:
        params = {
            "fields": normalize.TRADE_FIELDS,
            "start_modified": localtime.render(cursor.start),
            "end_modified": localtime.render(cursor.end),
            "page_no": str(page_no),
            "page_size": str(self._page_size),
            "use_has_next": "false",  # total_results is what tells us the last page
            "type": self._trade_types,
        }
        content = await self._call(normalize.LIST_METHOD, params)
        return normalize.trade_list(content, page_no=page_no, page_size=self._page_size)

    async def _order(self, trade: Mapping[str, Any], where: str) -> Order | Rejected:
        """The trade, or why it alone is refused. A failed ``fullinfo`` request is no fault
        of the trade's: it fails the page, like the list request."""
        try:
            if normalize.needs_detail(trade):
                key = (normalize.tid(trade, where), str(trade.get("modified")))
                detail = self._details.get(key) or await self._detail(key[0])
                trade = normalize.with_detail(trade, detail, where)
                self._remember(key, detail)  # only once it proved consistent with the list
            return normalize.order(trade, where, buyer_key=self._buyer_key)
        except _DetailFailed as failed:
            raise failed.error from None
        except BadResponse as error:
            return wire.rejected(
                error,
                where,
                normalize.trade_key(trade),
                normalize.trade_buyer(trade, self._buyer_key),
            )

    async def _detail(self, tid: str) -> Mapping[str, Any]:
        try:
            content = await self._call(
                normalize.DETAIL_METHOD, {"tid": tid, "fields": normalize.TRADE_FIELDS}
            )
            return normalize.trade_detail(content)
        except BadResponse as error:
            raise _DetailFailed(error) from error

    async def _call(self, method: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """One TOP call, unless a ban is in force (see the module docstring)."""
        now = self._clock()
        if self._banned_until is not None and now < self._banned_until:
            raise RateLimited(
                f"{method}: not called: TOP's ban lasts until "
                f"{localtime.render(self._banned_until)} Beijing time",
                retry_after=(self._banned_until - now).total_seconds(),
            )
        try:
            return await self._client.call(method, params)
        except RateLimited as error:
            if error.retry_after:
                self._banned_until = self._clock() + timedelta(seconds=error.retry_after)
            raise

    def _remember(self, key: tuple[str, str], detail: Mapping[str, Any]) -> None:
        self._details[key] = detail
        self._details.move_to_end(key)
        if len(self._details) > DETAIL_CACHE_SIZE:
            self._details.popitem(last=False)

    async def aclose(self) -> None:
        await self._client.aclose()
