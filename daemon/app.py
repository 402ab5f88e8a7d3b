"""The composition root: builds the store, the watchers and the HTTP server from settings.

Data flows one way: connectors → poller → store → evaluator (checks) → ledger → metrics
and alert listeners. A :class:`Watch` is everything one config describes (sources,
pollers, evaluators); a reload builds a new one and swaps it in only if it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.registry import RULES
from connectors import registry as connector_registry
from connectors.base import ChatSource, OrderSource
from connectors.http import HostPools
from connectors.model import Stream
from daemon.alerts.listener import AlertListener, build_alert_listener
from daemon.clock import Clock, SystemClock
from daemon.config.secrets import SecretError, read_secret
from daemon.config.settings import Settings, StreamSettings
from daemon.console.pages import Console
from daemon.http import Api, make_app
from daemon.listener import CappedSite, ConnectionLimits, throttle_accept_errors
from daemon.scoring.month import Month
from daemon.scoring.policy_file import PolicyFiles
from daemon.scoring.records import ConversionDays, load_scorecard
from daemon.store.engine import create_engine
from daemon.store.identity import DatabaseFileWatch, open_database
from daemon.store.leases import LeaseStore
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore
from daemon.store.single_process import SingleProcessLock
from daemon.watch.evaluator import ShopEvaluator
from daemon.watch.events import EvaluationListener
from daemon.watch.leases import RENEW_EVERY, LeaseChanges, ShopLeases, default_instance
from daemon.watch.metrics import Metrics
from daemon.watch.poller import StreamPoller

log = structlog.get_logger("shopwatch")

EVALUATE_JOB = "evaluate"
RELOAD_GRACE_SECONDS = 30.0
POLLS_AT_ONCE = 16
"""Polls running at once; the others wait their turn. Hundreds of shops' back-fills at once
would queue on their host's connections and the database's write lock until they time out
(and hold every page in memory meanwhile)."""
EVALUATIONS_AT_ONCE = 4
"""Shops evaluated at once (each holds its buyers' evidence in memory while it runs)."""
SCORE_INTERVAL = 300.0
"""How often the month-to-date scores behind shopwatch_agent_score are recomputed (at once at
start). Each run reads the month's replies and payments of every shop for the conversion:
at an agency's thousand shops, every minute took a tenth of a core for a figure that moves
over days."""
DECISIONS_INTERVAL = 15
"""How often the in-review and appeals-pending gauges are counted from the ledger."""
DATABASE_CHECK_INTERVAL = 5
"""How often the SQLite file's identity is compared with the one opened at start."""
LAPSE_GRACE_SECONDS = 0.5
"""How long after another process's lease lapses (on the database's clock) to step."""
STOP_GRACE_SECONDS = 2.0
"""On stop, how long requests and jobs in flight may take to finish before they are
cancelled: the whole stop stays well inside systemd's TimeoutStopSec= (15 s in the unit)."""

SourceFactory = Callable[[StreamSettings], OrderSource | ChatSource]


def version() -> str:
    try:
        return metadata.version("shopwatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def build_source(
    stream: StreamSettings, pools: HostPools | None = None
) -> OrderSource | ChatSource:
    """The stream's source; with ``pools``, on its host's shared connection pool."""
    kind = connector_registry.lookup(stream.kind, stream.stream)
    config = stream.source_config()
    if pools is not None and kind.endpoint:
        config = dataclasses.replace(config, transport=pools.transport(stream.base_url))
    return kind.build(config, stream.stream)


@dataclass
class Watch:
    """The pollers and evaluators one config describes."""

    settings: Settings
    pollers: list[StreamPoller] = field(default_factory=list)
    evaluators: dict[str, ShopEvaluator] = field(default_factory=dict)
    alerts: AlertListener | None = None

    def new_data(self, shop: str, stream: Stream, records: Sequence[Any]) -> None:
        self.evaluators[shop].new_data(stream, records)

    async def close(self) -> None:
        if self.alerts is not None:
            await self.alerts.aclose()
        for poller in reversed(self.pollers):
            await poller.source.aclose()


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        source_factory: SourceFactory = build_source,
        listeners: Sequence[EvaluationListener] = (),
        engine: AsyncEngine | None = None,
        create_database: bool = False,
        instance: str | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.pools = HostPools()
        """The connections of every source of this process, one pool per host."""
        self.source_factory = (
            functools.partial(build_source, pools=self.pools)
            if source_factory is build_source
            else source_factory
        )
        self.listeners = list(listeners)
        self.create_database = create_database
        """Start an empty database even where the marker says one existed (``db upgrade``)."""
        self.database_watch: DatabaseFileWatch | None = None
        self.database_failure: str | None = None
        self.engine = engine or create_engine(settings.database())
        self.store = ObservationStore(self.engine)
        self.ledger = Ledger(self.engine)
        self.metrics = Metrics(version=version(), roster=settings.roster)
        self.policies = PolicyFiles()
        self.conversion_days = ConversionDays()
        """Final days' conversion, kept for the score job (each run reads the open days)."""
        self.watch: Watch | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.runner: web.AppRunner | None = None
        self.limits: ConnectionLimits | None = None
        self.console: Console | None = None
        self._restore_exception_handler: Callable[[], None] | None = None
        self.ready = False
        self.listening: tuple[str, int] | None = None
        self._jobs: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._evaluating: dict[str, asyncio.Lock] = {}
        self._polling = asyncio.Semaphore(POLLS_AT_ONCE)
        self._judging = asyncio.Semaphore(EVALUATIONS_AT_ONCE)
        self.instance = instance or default_instance(socket.gethostname(), os.getpid())
        self.leases: ShopLeases | None = None
        """Set with PostgreSQL: this process watches only the shops it holds (SPEC §9)."""
        self._shop_tasks: dict[str, set[asyncio.Task[Any]]] = {}
        self._fence_timer: asyncio.TimerHandle | None = None
        self._single_process: SingleProcessLock | None = None
        self._umask: int | None = None
        self._lease_engine: AsyncEngine | None = None
        self._taken: set[str] = set()
        """Held shops set up for watching (see :meth:`_take`)."""
        self._taking: set[str] = set()

    # ---- life cycle ----

    async def prepare(self) -> None:
        """Migrate the schema, load ledger totals, build and start the watchers.

        A database that cannot be used raises :class:`DatabaseUnavailable` with one line
        for the operator: unreachable (its URL with the password masked), or a SQLite file
        that is gone where the marker beside it says one was."""
        self.database_watch = await open_database(
            self.engine,
            shown_url=self.settings.database_shown(),
            create=self.create_database,
            now=self.clock.now(),
        )
        self.metrics.ledger.load(self._totals(await self.ledger.totals()))
        self.watch = await self._build_watch(self.settings)
        for configured in self.settings.shops:
            held = 1 if self.engine.dialect.name != "postgresql" else 0
            self.metrics.shop_held.labels(configured.id, self.instance).set(held)
        if self.engine.dialect.name == "postgresql":
            for configured in self.settings.shops:  # each comes back when it is taken
                self.metrics.forget_shop(configured.id)
            # Renewals on a connection of their own, never queued behind a back-fill's
            # writes for one of the pool's: a renewal that comes late stops every shop.
            self._lease_engine = create_engine(self.engine.url, pool_size=1, max_overflow=0)
            self.leases = ShopLeases(
                store=LeaseStore(self._lease_engine),
                instance=self.instance,
                shops=frozenset(s.id for s in self.settings.shops),
            )
            await self.lease_step()

    # ---- leases (several processes over one PostgreSQL) ----

    def holds(self, shop: str) -> bool:
        """Whether this process watches ``shop`` now (always, without leases): under its
        lease, and taken over (see :meth:`_take`)."""
        return self.leases is None or (self.leases.holds(shop) and shop in self._taken)

    def held_shops(self) -> list[str]:
        return [s.id for s in self.settings.shops if self.holds(s.id)]

    async def lease_step(self) -> None:
        """Renew, rebalance and apply what changed; a failure keeps the leases only until
        their deadline, when the fence timer stops the shops."""
        assert self.leases is not None
        try:
            async with asyncio.timeout(RENEW_EVERY.total_seconds()):
                changes = await self.leases.step()
        except Exception as error:
            log.warning(
                "lease renewal failed",
                instance=self.instance,
                error=type(error).__name__,
                hint="shops stay watched only until their leases' deadline",
            )
            return
        self._arm_fence()
        await self._apply_leases(changes)
        untaken = self.leases.held - self._taken - self._taking
        if untaken:  # acquired now, or a take that failed: (again) in a task of its own,
            # unless nothing is scheduled yet (prepare, or a test stepping by hand)
            take = self._take(frozenset(untaken))
            if self.scheduler is None:
                await take
            else:
                task = asyncio.get_running_loop().create_task(take)
                self._jobs.add(task)
                task.add_done_callback(self._jobs.discard)
        lapse = self.leases.next_lapse
        if self.scheduler is not None and lapse is not None and lapse < RENEW_EVERY.total_seconds():
            # Another's lease lapses before the next step: step just after it, so a dead
            # process's shops are taken over ~TTL after its last renewal, not up to 10 s later.
            when = datetime.now(UTC) + timedelta(seconds=lapse + LAPSE_GRACE_SECONDS)
            self.scheduler.modify_job("leases", next_run_time=when)
            log.info("a lease of another process lapses soon", instance=self.instance, at=when)

    def _arm_fence(self) -> None:
        """Stop every held shop at the renewal deadline unless a renewal comes first."""
        assert self.leases is not None
        if self._fence_timer is not None:
            self._fence_timer.cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, self.leases.valid_until - self.leases.monotonic())
        self._fence_timer = loop.call_later(delay, self._fence)

    def _fence(self) -> None:
        assert self.leases is not None
        lost = self.leases.fence()
        if lost:
            task = asyncio.get_running_loop().create_task(
                self._apply_leases(LeaseChanges(lost=lost))
            )
            self._jobs.add(task)
            task.add_done_callback(self._jobs.discard)

    async def _apply_leases(self, changes: LeaseChanges) -> None:
        for shop in sorted(changes.released | changes.lost):
            self._taken.discard(shop)
            for task in self._shop_tasks.pop(shop, set()):
                task.cancel()
            if self.watch is not None and shop in self.watch.evaluators:
                self.watch.evaluators[shop].forget()
            if self.watch is not None and self.watch.alerts is not None:
                self.watch.alerts.forget(shop)
            self.metrics.forget_shop(shop)  # its new holder exports them
            self.metrics.shop_held.labels(shop, self.instance).set(0)
        for change, shops in (("released", changes.released), ("lost", changes.lost)):
            self.metrics.lease_changes.labels(change).inc(len(shops))
        self.metrics.lease_changes.labels("acquired").inc(len(changes.acquired))

    async def _take(self, shops: frozenset[str]) -> None:
        """Take over shops this process now holds: each is polled, judged and alerted on
        only once its pollers start from the watermarks its last holder stored, its
        evaluator starts afresh and what was announced for it is read back (or it would be
        announced again)."""
        self._taking |= shops
        try:
            totals = await self.ledger.totals()
            for shop in sorted(shops):
                if self.watch is not None:
                    # and after any evaluation of it still running from an earlier holding
                    async with self._evaluating.setdefault(shop, asyncio.Lock()):
                        for poller in self.watch.pollers:
                            if poller.shop == shop:
                                await poller.start()
                        if shop in self.watch.evaluators:
                            self.watch.evaluators[shop].forget()
                        if self.watch.alerts is not None:
                            await self.watch.alerts.adopt(shop, self.clock.now())
                if self.leases is not None and self.leases.holds(shop):  # not lost meanwhile
                    self.metrics.forget_shop(shop)  # what an earlier holding left
                    self.metrics.declare_shop(shop)
                    self.metrics.ledger.load(self._totals(t for t in totals if t[0] == shop))
                    self._taken.add(shop)
                    self.metrics.shop_held.labels(shop, self.instance).set(1)
        except Exception:
            log.exception("taking a shop over failed; the next lease step tries again")
        finally:
            self._taking -= shops

    def _totals(
        self, rows: Iterable[tuple[str, str, str | None, int, int]]
    ) -> list[tuple[tuple[str, str, str], int, int]]:
        """Ledger totals as the metric cache keys them (the agent label folded)."""
        return [
            ((shop, rule, self.metrics.agent_label(agent)), count, points)
            for shop, rule, agent, count, points in rows
        ]

    def _track_shop_task(self, shop: str) -> None:
        """A job working on ``shop``: cancelled if the shop's lease goes."""
        task = asyncio.current_task()
        if task is not None and self.leases is not None:
            tasks = self._shop_tasks.setdefault(shop, set())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _build_watch(self, settings: Settings) -> Watch:
        self.metrics.roster = settings.roster
        self.metrics.declare(shops=[s.id for s in settings.shops], rules=RULES)
        watch = Watch(settings=settings)
        watch.alerts = build_alert_listener(
            settings, settings.alerts, engine=self.engine, metrics=self.metrics, clock=self.clock
        )
        listeners = [*self.listeners, *([watch.alerts] if watch.alerts else [])]
        try:
            for shop in settings.shops:
                pollers: dict[Stream, StreamPoller] = {}
                for stream in Stream:
                    stream_settings = shop.stream(stream)
                    poller = StreamPoller(
                        shop=shop.id,
                        settings=stream_settings,
                        source=self.source_factory(stream_settings),
                        store=self.store,
                        metrics=self.metrics,
                        clock=self.clock,
                        on_new_data=watch.new_data,
                    )
                    watch.pollers.append(poller)
                    await poller.start()
                    pollers[stream] = poller
                evaluator = ShopEvaluator(
                    shop=shop.id,
                    settings=settings,
                    store=self.store,
                    ledger=self.ledger,
                    metrics=self.metrics,
                    clock=self.clock,
                    pollers=pollers,
                    listeners=listeners,
                )
                watch.evaluators[shop.id] = evaluator
        except BaseException:
            await watch.close()
            raise
        return watch

    async def serve_http(self) -> tuple[str, int]:
        host, port = self.settings.listen
        api = Api(
            ledger=self.ledger,
            engine=self.engine,
            clock=self.clock,
            readiness=self.readiness,
            api_token=self._api_token,
            read_token=self._read_token,
            settings=lambda: self.settings,
            auth_failures=self.metrics.http_auth_failures,
            storage_failure=self.check_database,
            conversion_days=self.conversion_days,
        )
        idle = self.settings.idle_timeout.total_seconds()
        self.limits = ConnectionLimits(
            max_connections=self.settings.max_connections, first_request_timeout=idle
        )
        app = make_app(api, self.metrics.registry, first=[self.limits.middleware()])
        self.console = Console(
            ledger=self.ledger,
            engine=self.engine,
            clock=self.clock,
            settings=lambda: self.settings,
            storage_failure=self.check_database,
            conversion_days=self.conversion_days,
        )
        self.console.setup(app)  # the people's pages under / (SPEC §8)
        self.runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=STOP_GRACE_SECONDS, keepalive_timeout=idle
        )
        await self.runner.setup()
        site = CappedSite(self.runner, host, port, limits=self.limits)
        await site.start()
        bound = self.runner.addresses[0]  # the real port when the config says port 0
        self.listening = (str(bound[0]), int(bound[1]))
        return self.listening

    def start_scheduler(self) -> None:
        assert self.watch is not None
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_listener(self._job_skipped, EVENT_JOB_MAX_INSTANCES)
        self._schedule(self.watch)
        self.scheduler.start()
        self.ready = True

    def _job_skipped(self, event: JobSubmissionEvent) -> None:
        # Normal during a long backfill: the next run starts when this one is done.
        self.metrics.jobs_skipped.labels(event.job_id.split(":", 1)[0]).inc()

    def _schedule(self, watch: Watch) -> None:
        assert self.scheduler is not None
        now = self.clock.now()
        for index, poller in enumerate(watch.pollers):
            interval = poller.settings.poll_interval.total_seconds()
            # First runs spread over one interval: hundreds of shops' polls then come one
            # after another, not all at once every interval.
            first = now + timedelta(seconds=interval * index / len(watch.pollers))
            self.scheduler.add_job(
                self._poll_job,
                "interval",
                args=[poller],
                seconds=interval,
                id=f"poll:{poller.shop}:{poller.stream.value}",
                next_run_time=first,
                replace_existing=True,
            )
        if self.leases is not None:
            self.scheduler.add_job(
                self.lease_step,
                "interval",
                seconds=RENEW_EVERY.total_seconds(),
                id="leases",
                next_run_time=now + RENEW_EVERY,
                replace_existing=True,
            )
        self.scheduler.add_job(
            self.publish_decisions,
            "interval",
            seconds=DECISIONS_INTERVAL,
            id="decisions",
            next_run_time=now,
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.publish_scores,
            "interval",
            seconds=SCORE_INTERVAL,
            id="score",
            next_run_time=now,
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=watch.settings.evaluation_interval.total_seconds(),
            id=EVALUATE_JOB,
            next_run_time=now,
            replace_existing=True,
        )
        if self.database_watch is not None:
            self.scheduler.add_job(
                self.check_database,
                "interval",
                seconds=DATABASE_CHECK_INTERVAL,
                id="database",
                next_run_time=now,
                replace_existing=True,
            )

    async def start(self) -> None:
        # What the daemon creates (database, WAL, SHM, markers) is its own alone, also
        # outside systemd (whose unit sets UMask=0077 too).
        self._umask = os.umask(0o077)
        self._restore_exception_handler = throttle_accept_errors(asyncio.get_running_loop())
        database = self.engine.url.database
        if self.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
            self._single_process = SingleProcessLock(Path(database))
            self._single_process.acquire()
        await self.prepare()
        await self.serve_http()
        self.start_scheduler()
        log.info(
            "shopwatch started",
            version=version(),
            shops=[s.id for s in self.settings.shops],
            listen=f"{self.listening[0]}:{self.listening[1]}" if self.listening else None,
            rules=[r.code for r, _ in self.settings.enabled_rules()],
        )

    async def stop(self) -> None:
        """Stop scheduling; close the listener while the jobs in flight get
        :data:`STOP_GRACE_SECONDS` to end (requests in flight as long), then cancel what is
        left; close the sources and the database. Bounded: a few seconds whatever runs."""
        self.ready = False
        self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        running = [task for task in self._jobs if task is not asyncio.current_task()]
        listener = asyncio.create_task(self._close_listener())
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:  # a job blocked in a database thread cannot be interrupted: leave it
                await asyncio.wait(late, timeout=STOP_GRACE_SECONDS)
        await listener
        if self._fence_timer is not None:
            self._fence_timer.cancel()
        if self.leases is not None:
            # Hand the shops over at once rather than after the leases lapse.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_GRACE_SECONDS):
                    await self.leases.leave()
        if self._lease_engine is not None:
            await self._lease_engine.dispose()
        if self.watch is not None:
            await self.watch.close()
        await self.pools.aclose()
        await self.engine.dispose()
        if self._single_process is not None:
            self._single_process.release()
        if self._umask is not None:
            os.umask(self._umask)  # the process's own again (tests run daemons in-process)
            self._umask = None
        if self._restore_exception_handler is not None:
            self._restore_exception_handler()
            self._restore_exception_handler = None

    async def _close_listener(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()  # waits at most shutdown_timeout for requests

    async def reload(self, settings: Settings) -> None:
        """Swap in a new config. The new watch is built first; if that fails, the old one
        keeps running and the error propagates to the caller, who logs it."""
        if settings.database_url != self.settings.database_url:
            raise ValueError("[database] url cannot change on reload; restart the service")
        if settings.listen != self.settings.listen:
            raise ValueError("[http] listen cannot change on reload; restart the service")
        new_watch = await self._build_watch(settings)
        old = self.watch
        if self.scheduler is not None:
            self.scheduler.remove_all_jobs()
        in_flight = [task for task in self._jobs if task is not asyncio.current_task()]
        self.watch, self.settings = new_watch, settings
        if self.leases is not None:
            self.leases.shops = frozenset(s.id for s in settings.shops)
            for configured in settings.shops:  # the new watch declared every shop's series
                if not self.holds(configured.id):
                    self.metrics.forget_shop(configured.id)
        if self.scheduler is not None:
            self._schedule(new_watch)
        if old is not None:
            # Let the old watch's polls and evaluations finish before closing its sources.
            if in_flight:
                await asyncio.wait(in_flight, timeout=RELOAD_GRACE_SECONDS)
            await old.close()

    # ---- jobs ----

    async def _poll_job(self, poller: StreamPoller) -> None:
        """A scheduled poll; on new evidence the shop is evaluated at once, not at the next
        tick — unless an evaluation of that shop is already running (it will see the data)."""
        if not self.holds(poller.shop):
            return
        async with self._job():
            self._track_shop_task(poller.shop)
            try:
                async with self._polling:  # its time limits start when its turn comes
                    moved = await poller.poll()
            except Exception as error:  # a bug or a database error: keep serving other shops
                self.metrics.poll_error(poller.shop, poller.stream, error)
                log.exception("poll crashed", shop=poller.shop, stream=poller.stream.value)
                return
            lock = self._evaluating.setdefault(poller.shop, asyncio.Lock())
            if moved and self.scheduler is not None and not lock.locked():
                # In its own task, so this stream's next poll is not held up by it.
                task = asyncio.create_task(self._evaluate_soon(poller.shop))
                self._jobs.add(task)
                task.add_done_callback(self._jobs.discard)

    async def poll_all(self) -> None:
        assert self.watch is not None
        for poller in self.watch.pollers:
            await self._poll_job(poller)

    async def tick(self) -> None:
        """The periodic evaluation of every shop (deadlines pass without new data too)."""
        assert self.watch is not None
        async with self._job():
            for shop in list(self.watch.evaluators):
                if self.holds(shop):
                    await self._evaluate(shop)

    async def _evaluate_soon(self, shop: str) -> None:
        async with self._job():
            await self._evaluate(shop)

    async def _evaluate(self, shop: str) -> None:
        assert self.watch is not None
        evaluator = self.watch.evaluators.get(shop)
        if evaluator is None or not self.holds(shop):
            return
        async with self._evaluating.setdefault(shop, asyncio.Lock()), self._judging:
            try:
                await evaluator.tick()
            except Exception:
                log.exception("evaluation crashed", shop=shop)

    async def publish_decisions(self) -> None:
        """Violations awaiting a supervisor (in review, appealed) as gauges, counted here so
        a scrape never touches the database."""
        async with self._job():
            try:
                counts = await self.ledger.status_counts()
            except Exception:
                log.exception("counting violations awaiting a decision failed")
                return
            # Each process exports the shops it holds (team-level rows have no shop).
            self.metrics.awaiting_decision(c for c in counts if not c[0] or self.holds(c[0]))

    async def publish_scores(self) -> None:
        """Month-to-date scores as ``shopwatch_agent_score{agent}``, computed here so a
        scrape never touches the database."""
        async with self._job():
            now = self.clock.now()
            month = Month.of(now, self.settings.timezone)
            try:
                card = await load_scorecard(
                    self.engine,
                    self.settings,
                    month,
                    policy=self.policies.policy_for(self.settings),
                    now=now,
                    conversion_days=self.conversion_days,
                )
            except Exception:
                log.exception("scorecard failed", month=str(month))
                return
            for row in card.agents:
                agent = self.metrics.agent_label(row.agent)
                self.metrics.agent_score.labels(agent).set(row.score)
                conversion = row.conversion
                rate = conversion.shown_rate if conversion else None
                if rate is not None:
                    self.metrics.agent_conversion.labels(agent).set(float(rate))
                self.metrics.agent_commission.labels(agent).set(
                    float(conversion.commission) if conversion else 0.0
                )

    @contextlib.asynccontextmanager
    async def _job(self) -> AsyncIterator[None]:
        """Track a running job so ``stop`` can cancel it and wait for it: a job cut off
        mid-transaction must hand its connection back before the engine is disposed."""
        task = asyncio.current_task()
        assert task is not None
        self._jobs.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Cancelled by stop(): end quietly so the scheduler logs no error.
        finally:
            self._jobs.discard(task)

    # ---- state for HTTP and systemd ----

    def _api_token(self) -> str | None:
        return _token(self.settings.api_token_file)

    def _read_token(self) -> str | None:
        return _token(self.settings.read_token_file)

    def check_database(self) -> str | None:
        """Whether the SQLite file is still the one opened at start (a periodic job and
        before every write through the API). A deleted file keeps taking writes that are
        all lost: the daemon is not ready and says so loudly until it is restarted."""
        if self.database_watch is None:
            return None
        failure = self.database_watch.failure()
        if failure is not None and failure != self.database_failure:
            log.error(
                "DATABASE LOST: nothing written from now on is kept",
                error=failure,
                hint="stop shopwatch, restore the database from a backup (or run "
                "`shopwatch db upgrade` to start an empty one on purpose), start it again",
            )
        elif failure is None and self.database_failure is not None:
            log.info("database file is back", database=str(self.database_watch.database))
        self.database_failure = failure
        return failure

    def _held_pollers(self) -> list[StreamPoller]:
        """The pollers of the shops this process watches (all, without leases)."""
        return [p for p in (self.watch.pollers if self.watch else []) if self.holds(p.shop)]

    def stream_status(self) -> dict[str, dict[str, Any]]:
        return {
            poller.name: {
                "ok": not poller.failing,
                "backfilling": poller.backfilling,
                "paused_until": poller.paused_until.isoformat() if poller.paused_until else None,
                "watermark": poller.state.watermark.isoformat() if poller.state else None,
                "error": poller.last_error,
            }
            for poller in self._held_pollers()
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready once started, and while every shop's evaluation succeeds: one that cannot
        write its findings (a full disk, a lost database) is not ready until it can."""
        failures = self.evaluation_failures()
        details: dict[str, Any] = {"streams": self.stream_status()}
        if self.leases is not None:
            details["instance"] = self.instance
            details["holds"] = self.held_shops()
        if failures:
            details["evaluation"] = failures
        if self.database_failure is not None:
            details["database"] = self.database_failure
        return self.ready and not failures and self.database_failure is None, details

    def evaluation_failures(self) -> dict[str, str]:
        """Shops whose findings or data cannot be stored now, with why."""
        if self.watch is None:
            return {}
        failures = {
            shop: evaluator.failure
            for shop, evaluator in self.watch.evaluators.items()
            if evaluator.failure is not None and self.holds(shop)
        }
        for poller in self.watch.pollers:
            if poller.storage_failure is not None and self.holds(poller.shop):
                failures.setdefault(poller.shop, poller.storage_failure)
        return failures

    def status_line(self) -> str:
        """One line for systemd's STATUS=: what the daemon is doing now.

        Asked after every job, so it reads the pollers' state directly instead of building
        :meth:`stream_status` (a thousand shops' polls each formatting every stream's
        watermark took a tenth of a core)."""
        shops = len(self.settings.shops)
        if self.database_failure is not None:
            return f"NOT READY: {self.database_failure} (see the log)"
        broken = sorted(self.evaluation_failures())
        if broken:
            return f"NOT READY: cannot record findings of {_some(broken)} (see the log)"
        held = self._held_pollers()
        failing = [p.name for p in held if p.failing]
        backfilling = [p.name for p in held if p.backfilling]
        paused = [f"{p.name} until {p.paused_until.isoformat()}" for p in held if p.paused_until]
        if paused:
            return f"watching {shops} shop(s); paused by the platform: {_some(paused)}"
        if failing:
            return f"watching {shops} shop(s); failing: {_some(failing)}"
        if backfilling:
            return f"backfilling: {_some(backfilling)}"
        return f"watching {shops} shop(s)"


def _token(path: Path | None) -> str | None:
    """A bearer token's file, read at each request (its first line): None when unset or
    unusable (then that kind of request is refused, and ``check-config --secrets`` says why)."""
    if path is None:
        return None
    try:
        return read_secret(path)
    except SecretError:
        return None


STATUS_NAMES = 5
"""Streams or shops a status line names before it counts the rest (systemd shows one line)."""


def _some(names: list[str]) -> str:
    """The first few names, then how many more: a thousand shops back-filling is one line."""
    shown = ", ".join(names[:STATUS_NAMES])
    rest = len(names) - STATUS_NAMES
    return f"{shown} and {rest} more" if rest > 0 else shown
