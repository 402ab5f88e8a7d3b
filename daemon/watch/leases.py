"""Which shops this process watches, when several share one PostgreSQL (SPEC §9).

Every ``renew_every`` the process records its heartbeat, renews the leases it holds, gives
back what exceeds its fair share (``ceil(shops / live processes)``) and takes free ones up
to it. It counts a lease as its own only until ``sent + ttl − margin``, where ``sent`` is the
local monotonic instant *before* the renewal was sent: the database set the expiry to its
``now() + ttl`` at or after that instant, so this process stops polling a shop before
anyone else may take it, even when it has lost the database and cannot tell (no two pollers
of one shop, ever). Clocks of different machines never meet: expiry is the database's, the
self-fencing deadline is the local monotonic clock's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from daemon.store.leases import LeaseStore

log = structlog.get_logger("shopwatch.leases")

TTL = timedelta(seconds=30)
RENEW_EVERY = timedelta(seconds=10)
MARGIN = timedelta(seconds=5)
"""Room between this process stopping itself and the lease lapsing for everyone else."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseChanges:
    acquired: frozenset[str] = frozenset()
    released: frozenset[str] = frozenset()
    """Given back on purpose (rebalancing)."""
    lost: frozenset[str] = frozenset()
    """Taken by another, or dropped because this process could not renew in time."""

    def __bool__(self) -> bool:
        return bool(self.acquired or self.released or self.lost)


@dataclass(kw_only=True)
class ShopLeases:
    store: LeaseStore
    instance: str
    shops: frozenset[str]
    ttl: timedelta = TTL
    margin: timedelta = MARGIN
    monotonic: Callable[[], float] = time.monotonic
    held: set[str] = field(default_factory=set)
    valid_until: float = 0.0
    live_instances: int = 1
    next_lapse: float | None = None
    """Seconds from the last step until the first lease another process holds lapses
    (None: none held): when a dead process's shops become free for the taking."""

    def holds(self, shop: str) -> bool:
        return shop in self.held and self.monotonic() < self.valid_until

    def fence(self) -> frozenset[str]:
        """Drop every lease whose renewal deadline has passed (the database is unreachable
        or too slow): returns the shops to stop watching now."""
        if not self.held or self.monotonic() < self.valid_until:
            return frozenset()
        lost = frozenset(self.held)
        self.held.clear()
        log.error(
            "leases not renewed in time: stopped watching",
            instance=self.instance,
            shops=len(lost),
            hint="another process takes these shops over once their leases lapse",
        )
        return lost

    async def step(self) -> LeaseChanges:
        """Heartbeat, renew, rebalance. Raises what the database raises; then the leases
        stay valid only until their deadline (see :meth:`fence`)."""
        sent = self.monotonic()
        await self.store.ensure_shops(self.shops)
        live = await self.store.heartbeat(self.instance, self.ttl)
        self.live_instances = len(live) or 1
        kept = await self.store.renew(self.instance, self.held, self.ttl)
        lost = frozenset(self.held - kept)
        self.valid_until = sent + (self.ttl - self.margin).total_seconds()
        fair = fair_share(len(self.shops), live, self.instance)
        released: frozenset[str] = frozenset()
        if len(kept) > fair:
            released = frozenset(sorted(kept)[fair:])
            await self.store.release(self.instance, released)
            kept -= released
        acquired: frozenset[str] = frozenset()
        if len(kept) < fair:
            acquired = frozenset(
                await self.store.acquire(
                    self.instance, self.shops - kept, fair - len(kept), self.ttl
                )
            )
        self.held = kept | acquired
        self.next_lapse = await self.store.next_lapse(self.instance)
        changes = LeaseChanges(acquired=acquired, released=released, lost=lost)
        if changes:
            log.info(
                "leases changed",
                instance=self.instance,
                held=len(self.held),
                live_instances=self.live_instances,
                acquired=sorted(acquired),
                released=sorted(released),
                lost=sorted(lost),
            )
        return changes

    async def leave(self) -> None:
        self.held.clear()
        await self.store.leave(self.instance)


def fair_share(shops: int, live: list[str], instance: str) -> int:
    """Shops spread evenly: the first ``shops mod n`` live instances (by name) take one more,
    so the shares add up to every shop exactly."""
    n = len(live) or 1
    rank = live.index(instance) if instance in live else n - 1
    return shops // n + (1 if rank < shops % n else 0)


def default_instance(host: str, pid: int) -> str:
    return f"{host}:{pid}"
