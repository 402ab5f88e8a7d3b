"""The Shopify orders stream: orders, then abandoned checkouts, paced on the cost bucket.

A poll lists, with cursor paging (``pageInfo { hasNextPage endCursor }``):

1. ``orders`` updated since the watermark (``updated_at:>='…'``, whole seconds rounded down,
   ``sortKey: UPDATED_AT``), each with its transactions for the paid-at time;
2. ``abandonedCheckouts`` updated since the watermark minus ``checkout_lookback``: a checkout
   is listed as abandoned only some time after its last change, so the usual ``settle``
   overlap could miss it. Each becomes an order version ``checkout:<id>`` awaiting payment
   (see :mod:`connectors.shopify.normalize`): on Shopify most buyers who did not pay never
   made an order, only a checkout.

The page token carries the listing, its search bound and the cursor, so a retried page asks
exactly the same query. Within a page records are sorted by ``updated_at``. A node that does
not read (an unknown ``displayFinancialStatus`` on another ``api_version``, a missing field) is
refused alone and handed to the poller in ``Page.rejected`` with its id where readable; the
page's other records are kept. A page whose connection does not read fails whole.

**Pacing.** Every answer reports the cost bucket (:mod:`connectors.shopify.throttle`). Before
a query the source predicts the bucket from the latest report and the restore rate; when the
query's cost (as the previous query of the same listing requested) would not fit, it waits —
through the injected ``sleep`` — until it does, so it never rides into ``THROTTLED``. A wait
longer than ``max_pace`` would eat the poller's per-request time budget: the source then fails
the fetch at once, without a request, as rate limited for that long, and the poller waits.
A ``THROTTLED`` answer (another process of the same app, a first query of unknown cost) is
rate limited for the time the bucket needs to refill.

**Buyer identity.** A page on which no record carries the configured ``buyer_key`` is logged
once per listing as a warning naming the missing access and the fix (with ``email`` or
``phone`` the usual cause is an app without protected customer data access); such records are
marked ``buyer_identified = False`` for the rules. One "identified again" line follows when a
later page does carry it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from connectors import wire
from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse, RateLimited
from connectors.model import Order, Page, Rejected
from connectors.shopify import normalize, queries
from connectors.shopify.client import ShopifyClient
from connectors.shopify.normalize import BuyerKey, ShopifyRules
from connectors.shopify.throttle import Bucket

Sleep = Callable[[float], Awaitable[None]]
log = structlog.get_logger("shopwatch.shopify")


@dataclass(frozen=True, slots=True)
class Listing:
    name: str
    """The page token's name for it, and the log's."""
    root: str
    operation: str
    document: Callable[[BuyerKey], str]
    record: Callable[[object, str, ShopifyRules], Order]
    key: Callable[[object], str | None]
    """The record's id, read leniently: which order a refused record was."""
    buyer: Callable[[object, ShopifyRules], str | None]
    """The record's buyer, read leniently: whose evidence a refused record is missing from."""


ORDERS = Listing(
    "orders",
    "orders",
    queries.ORDERS,
    queries.orders,
    normalize.order,
    normalize.order_key,
    normalize.order_buyer,
)
CHECKOUTS = Listing(
    "checkouts",
    "abandonedCheckouts",
    queries.CHECKOUTS,
    queries.abandoned_checkouts,
    normalize.checkout,
    normalize.checkout_key,
    normalize.checkout_buyer,
)
LISTINGS = {listing.name: listing for listing in (ORDERS, CHECKOUTS)}

_MISSING_ACCESS = {
    BuyerKey.EMAIL: (
        "e-mail address",
        "since API 2022-10 Shopify withholds e-mail, phone and name from apps without "
        "protected customer data access (level 2)",
    ),
    BuyerKey.PHONE: (
        "phone number",
        "since API 2022-10 Shopify withholds e-mail, phone and name from apps without "
        "protected customer data access (level 2)",
    ),
    BuyerKey.CUSTOMER_ID: (
        "customer",
        "records made without a customer (by an app, or from a draft order without one) "
        "have no customer id",
    ),
}
_FIX = (
    "give the app protected customer data access to e-mail and phone (a custom app: its "
    "configuration's protected customer data section; an app created in the Shopify admin: "
    'depends on the store\'s plan), or pair by customer id: buyer_key = "customer_id" here and '
    'buyer_key = "identifier" on the Chatwoot chat stream, with your site setting each '
    "Chatwoot contact's identifier to the Shopify customer id"
)


def _encode(listing: str, bound: str, after: str | None) -> str:
    state = {"listing": listing, "bound": bound, "after": after}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode(token: str) -> tuple[Listing, str, str | None]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        listing, bound, after = LISTINGS[state["listing"]], state["bound"], state["after"]
        wire.parse_instant(bound, "bound")
        if after is not None and not isinstance(after, str):
            raise ValueError("bad cursor")
    except (ValueError, KeyError, TypeError, BadResponse) as exc:
        raise BadResponse(f"not a token this source issued ({exc})", field="page_token") from None
    return listing, bound, after


def _bound(moment: datetime) -> str:
    """Whole seconds, rounded down: the documented form, and still inclusive."""
    return wire.rfc3339(moment.replace(microsecond=0))


class ShopifyOrderSource:
    """An :class:`connectors.base.OrderSource` over the GraphQL Admin API."""

    def __init__(
        self,
        *,
        client: ShopifyClient,
        rules: ShopifyRules,
        page_size: int,
        abandoned_checkouts: bool = True,
        checkout_lookback: timedelta = timedelta(hours=1),
        max_pace: float = 15.0,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._rules = rules
        self._first = max(1, min(page_size, queries.MAX_PAGE_SIZE))
        self._listings = (ORDERS, CHECKOUTS) if abandoned_checkouts else (ORDERS,)
        self._checkout_lookback = checkout_lookback
        self._max_pace = max_pace
        self._clock = clock
        self._sleep = sleep
        self._bucket: Bucket | None = None
        self._cost: dict[str, float] = {}
        """The cost the latest query of each listing requested: the next one's estimate."""
        self._unidentified: dict[str, str] = {}
        """Listings whose latest page identified no buyer (warned once): what it means and
        the fix."""

    @property
    def identity_problem(self) -> str | None:
        """While the latest page of a listing identified no buyer: what that means and the
        fix (the warning's text; ``check-config --secrets`` shows it too)."""
        return next(iter(self._unidentified.values()), None)

    @property
    def bucket(self) -> Bucket | None:
        """The shop's cost bucket as last reported, and when."""
        return self._bucket

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        if page_token:
            listing, bound, after = _decode(page_token)
        else:
            listing, bound, after = ORDERS, _bound(since), None
        await self._pace(listing)
        variables = {"first": self._first, "after": after, "query": queries.updated_since(bound)}
        try:
            answer = await self._client.query(
                listing.document(self._rules.buyer_key),
                variables,
                what=f"{listing.operation} (updated since {bound})",
            )
        finally:
            self._observe(listing)
        page = normalize.connection(answer.data, listing.root)
        orders: list[Order] = []
        rejected: list[Rejected] = []
        for i, raw in enumerate(page.nodes):
            where = f"{listing.root}.nodes[{i}]"
            try:
                orders.append(listing.record(raw, where, self._rules))
            except BadResponse as error:  # this record's own fault: the others are kept
                buyer = listing.buyer(raw, self._rules)
                rejected.append(wire.rejected(error, where, listing.key(raw), buyer))
        self._check_identity(listing, orders, answer.withheld)
        orders.sort(key=lambda order: (order.updated_at, order.id))
        return Page(
            items=tuple(orders),
            next_page_token=self._next(listing, bound, page.end_cursor, since),
            rejected=tuple(rejected),
        )

    def _next(
        self, listing: Listing, bound: str, cursor: str | None, since: datetime
    ) -> str | None:
        if cursor is not None:
            return _encode(listing.name, bound, cursor)
        if listing not in self._listings or listing is self._listings[-1]:
            return None
        position = self._listings.index(listing)
        following = self._listings[position + 1]
        start = since - self._checkout_lookback if following is CHECKOUTS else since
        return _encode(following.name, _bound(start), None)

    async def _pace(self, listing: Listing) -> None:
        """Wait until the bucket holds what the listing's last query requested."""
        needed = self._cost.get(listing.name)
        if self._bucket is None or needed is None:
            return
        try:
            wait = self._bucket.wait_for(needed, self._clock())
        except ValueError as exc:
            raise BadResponse(
                f"{exc}: lower page_size for this stream", field="page_size"
            ) from None
        if wait > self._max_pace:
            raise RateLimited(
                f"{listing.operation} not sent: the cost bucket needs {wait:.1f} s to hold the "
                f"{needed:g} points the query takes",
                retry_after=wait,
            )
        if wait > 0:
            await self._sleep(wait)

    def _observe(self, listing: Listing) -> None:
        cost = self._client.cost
        if cost is None:
            return
        self._bucket = Bucket(cost=cost, observed_at=self._clock())
        self._cost[listing.name] = cost.requested

    def _check_identity(
        self, listing: Listing, orders: list[Order], withheld: tuple[str, ...]
    ) -> None:
        if not orders:
            return
        key = self._rules.buyer_key
        if any(order.buyer_identified for order in orders):
            if self._unidentified.pop(listing.name, None) is not None:
                log.info(
                    "shopify buyers identified again", listing=listing.name, buyer_key=key.value
                )
            return
        if listing.name in self._unidentified:
            return
        field, cause = _MISSING_ACCESS[key]
        detail = (
            f"none of the {len(orders)} {listing.name} on this page carries the buyer's "
            f"{field}, so none can pair with a chat conversation: the rules that pair orders "
            f"with chats count them undecidable (buyer_unidentified); {cause}"
        )
        fix = _FIX if key is not BuyerKey.CUSTOMER_ID else "pair by e-mail or phone instead"
        self._unidentified[listing.name] = f"{detail}. Fix: {fix}"
        log.warning(
            "shopify buyers not identified",
            listing=listing.name,
            buyer_key=key.value,
            detail=detail,
            withheld=list(withheld[:3]),
            fix=fix,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
