"""The WooCommerce orders stream: page-number paging, the trash, memo notes and the follow-up.

A poll lists the orders modified since the watermark twice: ``status=any``, then
``status=trash``. WooCommerce's "any" leaves trashed orders out, so without the second listing an
unpaid order moved to the trash would keep its last pending version and look unchased (CS101);
trashing an order updates its modification time (posts table: ``wp_trash_post``; HPOS tables:
``trash_order`` since the 2022 HPOS fix), so the trash is read with the same ``modified_after``.
An order deleted for good is never seen.

One call of :meth:`WooCommerceOrderSource.fetch_orders` reads one page of orders and, for each
paid order with a buyer message on it (a CS103 subject), its private notes — one more request
per such order; other orders' memos are not read. Every request is a single attempt; any
failure fails the page, which the poller retries with the same token. An order that does not
read (a status neither WooCommerce's nor in ``status_map``, a missing field) is refused alone
(``Page.rejected``, with its id where readable) and the page's other orders are kept.

**Memo follow-up.** Adding an order note probably does not change the order's
``date_modified`` (unverified), so ``modified_after`` polling alone would never see a memo
written after the order's last change, and CS103 would record a violation the shop did not
commit. The source therefore remembers the paid orders with a buyer message but no memo yet,
for ``memo_recheck`` after payment, and reads their notes again on the last page of every poll;
each new note becomes a new version of the order dated at the note. Because this happens within
the poll (on the last page of the trash listing), a memo written before a poll started is seen
by that poll, as the watermark promises.
The first poll after start lists ``memo_recheck`` further back to learn those orders again.
Cost: one notes request per remembered order per poll.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from connectors import wire
from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse
from connectors.model import Order, Page, Rejected
from connectors.woocommerce import normalize
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.normalize import WooRules

MAX_PAGE_SIZE = 100  # WordPress caps per_page at 100
MAX_REMEMBERED = 2000
LISTINGS = ("any", "trash")
"""The ``status`` values one poll lists, in order."""


def _encode(after: datetime, page: int, listing: str) -> str:
    state = {"after": int(after.timestamp()), "page": page, "listing": listing}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode(token: str) -> tuple[datetime, int, str]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        after, page, listing = state["after"], state["page"], state.get("listing", LISTINGS[0])
        if not isinstance(after, int) or not isinstance(page, int) or page < 1:
            raise ValueError("bad field types")
        if listing not in LISTINGS:
            raise ValueError(f"unknown listing {listing!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadResponse(f"not a token this source issued ({exc})", field="page_token") from None
    return datetime.fromtimestamp(after, UTC), page, listing


class WooCommerceOrderSource:
    """An :class:`connectors.base.OrderSource` over the WooCommerce REST API v3."""

    def __init__(
        self,
        *,
        client: WooCommerceClient,
        rules: WooRules,
        page_size: int,
        memo_recheck: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._rules = rules
        self._per_page = max(1, min(page_size, MAX_PAGE_SIZE))
        self._memo_recheck = memo_recheck
        self._clock = clock
        self._awaiting_memo: OrderedDict[str, Order] = OrderedDict()
        """Latest version of each paid order with a buyer message and no memo yet."""
        self._read_this_poll: set[str] = set()
        self._first_poll_done = False

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        if page_token:
            after, page, listing = _decode(page_token)
        else:
            after, page, listing = self._list_from(since), 1, LISTINGS[0]
            self._read_this_poll.clear()
        response = await self._client.orders(
            since=after, page=page, per_page=self._per_page, status=listing
        )
        orders: list[Order] = []
        rejected: list[Rejected] = []
        for i, raw in enumerate(normalize.order_rows(response.body)):
            where = f"orders[{i}]"
            try:
                if normalize.is_draft(raw, where):
                    continue
                order = normalize.order(raw, where, self._rules)
            except BadResponse as error:  # this order's own fault: the others are kept
                key, buyer = normalize.order_key(raw), normalize.order_buyer(raw, self._rules)
                rejected.append(wire.rejected(error, where, key, buyer))
                continue
            orders.extend(await self._versions(order, where))
        next_token: str | None
        if page < response.total_pages:
            next_token = _encode(after, page + 1, listing)
        elif listing != LISTINGS[-1]:
            next_token = _encode(after, 1, LISTINGS[LISTINGS.index(listing) + 1])
        else:
            next_token = None
            orders.extend(await self._follow_up_memos())
            self._first_poll_done = True
        orders.sort(key=lambda order: (order.updated_at, order.id))
        return Page(items=tuple(orders), next_page_token=next_token, rejected=tuple(rejected))

    def _list_from(self, since: datetime) -> datetime:
        return since if self._first_poll_done else since - self._memo_recheck

    async def _versions(self, order: Order, where: str) -> list[Order]:
        """The listed order, with its memo where it matters (see the module docstring)."""
        self._read_this_poll.add(order.id)
        if not normalize.needs_memo(order):
            self._awaiting_memo.pop(order.id, None)
            return [order]
        notes = normalize.memo_notes(await self._client.notes(order.id), where, self._rules)
        versions = normalize.with_memo(order, notes)
        self._remember(versions[-1])
        return versions

    async def _follow_up_memos(self) -> list[Order]:
        horizon = self._clock() - self._memo_recheck
        found: list[Order] = []
        for order_id, known in list(self._awaiting_memo.items()):
            if known.paid_at is None or known.paid_at < horizon:
                del self._awaiting_memo[order_id]
                continue
            if order_id in self._read_this_poll:
                continue
            notes = normalize.memo_notes(
                await self._client.notes(order_id), f"orders[id={order_id}]", self._rules
            )
            versions = normalize.with_memo(known, notes)
            found.extend(v for v in versions if v.updated_at > known.updated_at)
            self._remember(versions[-1])
        return found

    def _remember(self, latest: Order) -> None:
        if latest.has_seller_memo or self._memo_recheck <= timedelta(0):
            self._awaiting_memo.pop(latest.id, None)
            return
        self._awaiting_memo[latest.id] = latest
        self._awaiting_memo.move_to_end(latest.id)
        if len(self._awaiting_memo) > MAX_REMEMBERED:
            self._awaiting_memo.popitem(last=False)

    async def aclose(self) -> None:
        await self._client.aclose()
