"""Polls one stream of one shop: every page since the watermark, then moves the watermark.

The watermark is the start of the newest poll that read *all* pages, minus ``settle``
(writes that become visible late). Each poll re-reads from the watermark, so the overlap
window is read again and de-duplicated by the store. A poll that fails on any page —
unreachable, throttled past its retries, refused, or a page that fails validation —
stores what it read but leaves the watermark where it was: nothing is decided on data
that might be incomplete. Only this module retries; a connector makes one attempt.

A record the connector refused alone (``Page.rejected``: an unknown status on one order) does
not fail the poll: the rest of its page is stored, the record is logged and counted once
(``shopwatch_records_rejected_total``) and its order or conversation remembered, so that the
judge decides nothing against its buyer, and the watermark moves on. A page none of whose
several records reads is the platform's format changing, not a bad record: it is rejected
whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors import wire
from connectors.base import ChatSource, OrderSource, PresenceEventSource
from connectors.errors import AuthFailed, BadResponse, ConnectorError, Unavailable
from connectors.model import Message, Order, Page, PresenceEvent, PresenceStatus, Stream
from daemon.clock import Clock, Sleep, real_sleep
from daemon.config.secrets import SecretError
from daemon.config.settings import StreamSettings
from daemon.store.observations import ObservationStore, StreamState
from daemon.store.presence import EVENTS, NONE, SAMPLES, PresenceStore
from daemon.watch.metrics import Metrics

log = structlog.get_logger("shopwatch.poller")

REMEMBERED_REJECTIONS = 4096
"""Refused records recently logged and counted: the overlap re-read by the next polls brings
the same ones again."""
MAX_PAGES_PER_POLL = 5_000
"""A poll that has not reached the last page by then is refused (a platform whose paging
never ends would otherwise keep one poll alive for ever); at the generic API's 500 items a
page that is 2.5 million records, far beyond any back-fill."""

T = TypeVar("T")

NewData = Callable[[str, Stream, Sequence[Any]], None]
"""Told about newly stored orders or messages: (shop, stream, new records)."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    """A platform asking for a longer pause fails this poll; the next one tries again."""

    def delay(self, attempt: int, error: Unavailable) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        if attempt >= self.attempts:
            return None
        retry_after = error.retry_after
        if retry_after is not None:
            return float(retry_after) if retry_after <= self.max_retry_after else None
        backoff = min(self.max_delay, self.base_delay * float(2 ** (attempt - 1)))
        return backoff * (0.5 + random.random() / 2)  # jitter: shops polled in step drift apart


class StreamPoller:
    def __init__(
        self,
        *,
        shop: str,
        settings: StreamSettings,
        source: OrderSource | ChatSource,
        store: ObservationStore,
        metrics: Metrics,
        clock: Clock,
        on_new_data: NewData,
        sleep: Sleep = real_sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.shop = shop
        self.stream = settings.stream
        self.settings = settings
        self.source = source
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.on_new_data = on_new_data
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.state: StreamState | None = None
        self.failing = False
        self.auth_failed = False
        self.last_error: str | None = None
        self.storage_failure: str | None = None
        """Why storing the last poll's data failed, or None: the daemon is not ready then."""
        self._bound: datetime | None = None
        """The lowest ``complete_until`` the pages of the running poll reported."""
        self.paused_until: datetime | None = None
        """The platform banned us until then (e.g. TOP's spent daily quota): no poll before."""
        self.presence = PresenceStore(store.engine)
        self.presence_kind: str | None = None
        """How the chat source reported presence in the last poll: events, samples, none."""
        self._sampled_at: datetime | None = None
        self._last_sample: datetime | None = None
        """This process's previous successful sample: presence is known from it to the next
        one if they are close enough. A new process has none, so a restart leaves a gap."""
        self._sampled: dict[str, PresenceStatus] | None = None
        self._pending_sample: dict[str, PresenceStatus] | None = None
        self._source_written: tuple[str, datetime | None] | None = None
        """What this process last wrote to presence_sources (forgotten at each start)."""
        self._refused: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        """(key, reason, error) of refused records already logged and counted."""
        self._log = log.bind(shop=shop, stream=self.stream.value, kind=settings.kind)

    @property
    def labels(self) -> tuple[str, str]:
        return self.shop, self.stream.value

    @property
    def name(self) -> str:
        """``shop/stream``, as /readyz and the status line name it."""
        return f"{self.shop}/{self.stream.value}"

    @property
    def backfilling(self) -> bool:
        """No poll of this stream has succeeded yet: its history is still being read."""
        return self.state is None or self.state.last_success_at is None

    async def start(self) -> StreamState:
        """Load (or create, on the very first start) the stream's cursor and watermark."""
        now = self.clock.now()
        self._source_written = None  # another process may have held the shop meanwhile
        self.state = await self.store.start_stream(
            self.shop, self.stream, now - self.settings.backfill, now
        )
        self.metrics.watermark.labels(*self.labels).set(self.state.watermark.timestamp())
        if self.state.last_success_at is not None:
            self.metrics.last_success.labels(*self.labels).set(
                self.state.last_success_at.timestamp()
            )
        return self.state

    async def poll(self) -> bool:
        """One poll: all pages since the watermark. True if the watermark moved."""
        if self.state is None:
            try:  # the stream's cursor, from the store: a lost database fails it here
                await self.start()
            except Exception as error:
                self._storage_failed(error)
                return False
        assert self.state is not None
        started = self.clock.now()
        if self.paused_until is not None:
            if started < self.paused_until:
                return False
            self.paused_until = None
            self.metrics.paused_until.labels(*self.labels).set(0)
            self._log.info("ban over: polling again")
        since = self.state.watermark
        backfilling = self.state.last_success_at is None
        timer = time.perf_counter()
        self.metrics.polls.labels(*self.labels).inc()
        self._bound = None
        try:
            items = await self._read_all_pages(since, started, backfilling)
            # A source that knows where its data ends (exported files) caps the watermark:
            # nothing past its end is complete, whatever the clock says.
            reach = started - self.settings.settle
            if self._bound is not None:
                reach = min(reach, self._bound)
            watermark = max(since, reach)
            committed: list[Callable[[], None]] = []
            async with self.store.begin() as conn:  # one commit ends the poll
                if self.stream is Stream.CHAT:
                    await self._record_presence(since, watermark, started, conn, committed)
                await self.store.advance_watermark(
                    self.shop, self.stream, watermark, started, conn=conn
                )
            for remember in committed:  # only what was durably written is remembered
                remember()
        except ConnectorError as error:
            self._failed(error)
            return False
        except SecretError as error:  # the token file: unreadable or empty (named, not shown)
            self._failed(AuthFailed(str(error)))
            return False
        except Exception as error:
            self._storage_failed(error)
            return False
        finally:
            self.metrics.poll_duration.labels(*self.labels).observe(time.perf_counter() - timer)

        self.state = StreamState(
            shop=self.shop,
            stream=self.stream,
            history_start=self.state.history_start,
            watermark=watermark,
            last_success_at=started,
        )
        self.metrics.stream_up.labels(*self.labels).set(1)
        self.metrics.auth_failed.labels(*self.labels).set(0)
        self.metrics.last_success.labels(*self.labels).set(started.timestamp())
        self.metrics.watermark.labels(*self.labels).set(watermark.timestamp())
        if self.failing:
            self._log.info("stream recovered", watermark=watermark.isoformat())
        elif backfilling:
            self._log.info("backfill complete", items=items, watermark=watermark.isoformat())
        if self.storage_failure is not None:
            self._log.info("storage recovered")
        self.failing = self.auth_failed = False
        self.last_error = self.storage_failure = None
        return True

    async def _read_all_pages(self, since: datetime, started: datetime, backfilling: bool) -> int:
        """Every page since ``since``. The next page is fetched while this one is stored:
        the request waits on the network while the insert runs in the database's thread."""
        pages = items = 0
        seen: set[str] = set()
        page = await self._fetch(since, None)
        while True:
            token = page.next_page_token
            if token is not None and token in seen:
                raise BadResponse(
                    f"the platform sent the page token {token[:40]!r} a second time in one "
                    "poll: its paging loops",
                    field="next_page_token",
                )
            if token is not None and len(seen) >= MAX_PAGES_PER_POLL:
                raise BadResponse(
                    f"more than {MAX_PAGES_PER_POLL} pages in one poll: paging never ends",
                    field="next_page_token",
                )
            if token is not None:
                seen.add(token)
            ahead = asyncio.create_task(self._fetch(since, token)) if token else None
            try:
                await self._store(page, started)
            except BaseException:
                if ahead is not None:
                    ahead.cancel()
                    with contextlib.suppress(BaseException):
                        await ahead
                raise
            pages += 1
            items += len(page.items)
            if backfilling and pages % 20 == 0:
                self._progress(since, started, page, items)
            if ahead is None:
                break
            page = await ahead
        if self.stream is Stream.CHAT:
            await self._read_presence(since, started)
        return items

    def _progress(self, since: datetime, started: datetime, page: Page[Any], items: int) -> None:
        if not page.items:
            return
        last = page.items[-1]
        reached: datetime = last.updated_at if isinstance(last, Order) else last.sent_at
        span = (started - since).total_seconds() or 1.0
        done = min(1.0, max(0.0, (reached - since).total_seconds() / span))
        self._log.info("backfilling", items=items, reached=reached.isoformat(), done=f"{done:.0%}")

    async def _fetch(self, since: datetime, page_token: str | None) -> Page[Any]:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._bounded(self._fetch_once(since, page_token))
            except Unavailable as error:
                delay = self.retry.delay(attempt, error)
                if delay is None:
                    raise
                self._log.debug(
                    "retrying", attempt=attempt, delay=round(delay, 2), error=str(error)
                )
                await self.sleep(delay)

    async def _fetch_once(self, since: datetime, page_token: str | None) -> Page[Any]:
        if self.stream is Stream.ORDERS:
            return await self.source.fetch_orders(since, page_token)  # type: ignore[union-attr]
        return await self.source.fetch_messages(since, page_token)  # type: ignore[union-attr]

    async def _bounded(self, request: Awaitable[T]) -> T:
        """One request attempt, bounded in total time: a client's own timeout is per read,
        so a server trickling a byte at a time would otherwise hold a poll for ever."""
        limit = self.settings.timeout.total_seconds()
        try:
            async with asyncio.timeout(limit):
                return await request
        except TimeoutError:
            raise Unavailable(f"no complete answer within {limit:g} s (timeout)") from None

    async def _store(self, page: Page[Any], observed_at: datetime) -> None:
        if page.rejected:
            await self._refuse(page, observed_at)
        if page.complete_until is not None:
            bound = page.complete_until
            self._bound = bound if self._bound is None else min(self._bound, bound)
        new: Sequence[Order] | Sequence[Message]
        if self.stream is Stream.ORDERS:
            new = await self.store.save_orders(self.shop, page.items, observed_at)
            unidentified = sum(1 for order in new if not order.buyer_identified)
            if unidentified:
                self.metrics.orders_unidentified.labels(self.shop).inc(unidentified)
        else:
            new = await self.store.save_messages(self.shop, page.items, observed_at)
        if new:
            self.on_new_data(self.shop, self.stream, new)

    async def _refuse(self, page: Page[Any], observed_at: datetime) -> None:
        """Records the connector refused alone: remembered for the judge, then logged and
        counted once each. Several records and none read, or one whose id does not read
        (nothing would tell whose evidence lacks it): the page is rejected whole, and the
        watermark stays."""
        refused = page.rejected
        if not page.items and len(refused) > 1:
            raise BadResponse(
                f"none of the page's {len(refused)} records reads (the first: "
                f"{refused[0].error}): the platform's format changed, not one record",
                field=refused[0].field,
            )
        for record in refused:
            if record.key is None or len(record.key) > wire.ID_MAX:
                raise BadResponse(
                    f"a record whose id does not read cannot be set aside alone ({record.error})",
                    field=record.field,
                )
        keyed = [(r.key or "", r.reason) for r in refused]
        buyers = {r.key or "": r.buyer for r in refused if r.buyer is not None}
        await self.store.save_rejected(self.shop, self.stream, keyed, observed_at, buyers)
        what = "order" if self.stream is Stream.ORDERS else "conversation"
        for record in refused:
            mark = (record.key or "", record.reason, record.error)
            if mark in self._refused:
                continue  # the same record, re-read in the overlap
            self._refused[mark] = None
            if len(self._refused) > REMEMBERED_REJECTIONS:
                self._refused.popitem(last=False)
            self.metrics.records_rejected.labels(*self.labels, record.reason).inc()
            self._log.error(
                "record rejected",
                field=record.field,
                reason=record.reason,
                error=record.error,
                **{what: record.key},
                hint=(
                    f"the rest of the page is kept; no rule decides against this {what}'s "
                    "buyer (undecidable: record_rejected)"
                ),
            )

    async def _with_retries(self, request: Callable[[], Awaitable[T]]) -> T:
        """One request, bounded and retried like a page of the stream."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._bounded(request())
            except Unavailable as error:
                delay = self.retry.delay(attempt, error)
                if delay is None:
                    raise
                await self.sleep(delay)

    async def _read_presence(self, since: datetime, observed_at: datetime) -> None:
        """Presence, as part of the chat poll (SPEC §5): the ``/presence`` event stream from
        ``since`` with the messages' paging, or else one sample of every agent's status."""
        self._pending_sample = None
        source = self.source
        if isinstance(source, PresenceEventSource):
            first = await self._with_retries(lambda: source.fetch_presence_events(since, None))
            if first is not None:
                await self._read_presence_pages(source, since, first, observed_at)
                self.presence_kind = EVENTS
                return
        sampled_at = self.clock.now()
        samples = await self._with_retries(self.source.fetch_presence)  # type: ignore[union-attr]
        if samples is None:
            self.presence_kind = NONE
            return
        self.presence_kind = SAMPLES
        statuses = {sample.agent_id: sample.status for sample in samples}
        await self.presence.save_sample(
            self.shop, sampled_at, statuses, changed_only_from=self._sampled
        )
        self._sampled_at = sampled_at
        self._pending_sample = statuses

    async def _read_presence_pages(
        self,
        source: PresenceEventSource,
        since: datetime,
        page: Page[PresenceEvent],
        observed_at: datetime,
    ) -> None:
        seen: set[str] = set()
        while True:
            await self.presence.save_events(self.shop, page.items, observed_at)
            token = page.next_page_token
            if token is None:
                return
            if token in seen or len(seen) >= MAX_PAGES_PER_POLL:
                raise BadResponse(
                    f"the presence stream's paging loops or never ends (token {token[:40]!r})",
                    field="next_page_token",
                )
            seen.add(token)
            following = await self._with_retries(
                functools.partial(source.fetch_presence_events, since, token)
            )
            if following is None:
                raise BadResponse("the presence stream vanished while paging", field="events")
            page = following

    async def _record_presence(
        self,
        since: datetime,
        watermark: datetime,
        now: datetime,
        conn: AsyncConnection,
        committed: list[Callable[[], None]],
    ) -> None:
        """After a chat poll read every page: where presence is now known, and how (in the
        poll's closing transaction, with the watermark). What this process remembers of it
        goes to ``committed``, applied once the transaction is."""
        kind = self.presence_kind
        sampled_at: datetime | None = None
        if kind == EVENTS:
            await self.presence.extend_known(
                self.shop, EVENTS, since, watermark, end_included=False, conn=conn
            )
        elif kind == SAMPLES and self._sampled_at is not None:
            sampled_at = self._sampled_at
            last = self._last_sample
            limit = 2 * self.settings.poll_interval
            if last is not None and timedelta(0) <= sampled_at - last <= limit:
                await self.presence.extend_known(
                    self.shop, SAMPLES, last, sampled_at, end_included=True, conn=conn
                )
            committed.append(functools.partial(self._sampled_written, sampled_at))
        elif kind != NONE:
            return
        # How presence is read is written only when it changed since this process last
        # wrote it: an unchanged row rewritten at every poll of a thousand shops was
        # wasted writes.
        source = (kind, sampled_at)
        if self._source_written != source:
            await self.presence.set_source(
                self.shop, kind, now, last_sample_at=sampled_at, conn=conn
            )
            committed.append(functools.partial(setattr, self, "_source_written", source))

    def _sampled_written(self, sampled_at: datetime) -> None:
        self._last_sample = sampled_at
        self._sampled = self._pending_sample

    def _storage_failed(self, error: Exception) -> None:
        """The platform answered but the data could not be stored (a full disk, a lost
        database): the watermark stays, the stream is down and the daemon not ready."""
        self.metrics.poll_errors.labels(self.shop, self.stream.value, "storage").inc()
        self.metrics.stream_up.labels(*self.labels).set(0)
        first = self.storage_failure is None
        self.storage_failure = self.last_error = f"storage: {type(error).__name__}"
        if first:
            self._log.error(
                "cannot store what was read",
                error=type(error).__name__,
                detail=str(getattr(error, "orig", error))[:200],
                hint="the watermark stays; the same data is read again once storage works",
            )
        self.failing = True

    def _pause(self, error: Unavailable, now: datetime) -> bool:
        """A ban longer than the retry policy waits pauses the stream until it ends,
        visibly (metric and status), instead of failing every poll meanwhile."""
        if error.retry_after is None or error.retry_after <= self.retry.max_retry_after:
            return False
        self.paused_until = now + timedelta(seconds=error.retry_after)
        self.metrics.paused_until.labels(*self.labels).set(self.paused_until.timestamp())
        self._log.warning(
            "stream paused by the platform",
            until=self.paused_until.isoformat(),
            error=str(error),
            hint="the platform refuses requests until then (e.g. a spent daily quota)",
        )
        return True

    def _failed(self, error: ConnectorError) -> None:
        if isinstance(error, Unavailable):
            self._pause(error, self.clock.now())
        self.metrics.poll_error(self.shop, self.stream, error)
        self.metrics.stream_up.labels(*self.labels).set(0)
        self.last_error = f"{error.reason}: {error}"
        if isinstance(error, BadResponse):
            self.metrics.pages_rejected.labels(*self.labels).inc()
            # Every rejected page is logged: each one is data we refused and must explain.
            self._log.error(
                "page rejected",
                field=error.field,
                error=str(error),
                hint="the watermark stays; the page is read again on the next poll",
            )
        elif isinstance(error, AuthFailed):
            self.metrics.auth_failed.labels(*self.labels).set(1)
            if not self.auth_failed:
                self._log.error(
                    "credentials refused",
                    error=str(error),
                    hint=f"check {self.settings.token_file}; other shops are not affected",
                )
            self.auth_failed = True
        elif not self.failing:
            self._log.warning("poll failed", reason=error.reason, error=str(error))
        self.failing = True
