"""Shop leases in PostgreSQL: which ``shopwatch run`` process watches which shop (SPEC §9).

A lease is a row per shop with its holder and an expiry on the *database's* clock; a holder
renews its leases every few seconds, and a lease not renewed lapses and may be taken by
another process. Taking one is ``UPDATE … WHERE shop IN (SELECT … FOR UPDATE SKIP
LOCKED)``, re-checking that it is free, so two processes never take the same shop. Each
process also keeps a heartbeat row, so every process knows how many are alive and takes only
its fair share (shops spread evenly, rebalanced when one joins or leaves).

Why a table and not advisory locks: an advisory lock is released the moment PostgreSQL sees
the session end, while the process that held it may not yet know it is cut off and keep
polling; a lease with an expiry lets the holder stop itself *before* anyone else may start
(see :mod:`daemon.watch.leases`), and the table shows every process who holds what.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.store.observations import dialect_insert
from daemon.store.tables import daemon_instances, shop_leases

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The expiry of a lease nobody ever held."""


class LeaseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def ensure_shops(self, shops: Iterable[str]) -> None:
        """A (free) lease row for every configured shop."""
        rows = [{"shop": shop, "holder": None, "expires_at": EPOCH} for shop in shops]
        if not rows:
            return
        async with self.engine.begin() as conn:
            await conn.execute(dialect_insert(conn, shop_leases).on_conflict_do_nothing(), rows)

    async def heartbeat(self, instance: str, ttl: timedelta) -> list[str]:
        """Record that ``instance`` is alive for ``ttl``; return the live instances, sorted."""
        async with self.engine.begin() as conn:
            insert = dialect_insert(conn, daemon_instances).values(
                instance=instance, started_at=func.now(), expires_at=func.now() + ttl
            )
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[daemon_instances.c.instance],
                    set_={"expires_at": func.now() + ttl},
                )
            )
            await conn.execute(
                delete(daemon_instances).where(daemon_instances.c.expires_at < func.now() - ttl)
            )
            live = await conn.execute(
                select(daemon_instances.c.instance)
                .where(daemon_instances.c.expires_at > func.now())
                .order_by(daemon_instances.c.instance)
            )
            return [row.instance for row in live]

    async def renew(self, instance: str, shops: Iterable[str], ttl: timedelta) -> set[str]:
        """Extend ``instance``'s leases on ``shops``; returns those it still holds (a lease
        that lapsed and was taken by another is gone)."""
        wanted = sorted(shops)
        if not wanted:
            return set()
        async with self.engine.begin() as conn:
            rows = await conn.execute(
                update(shop_leases)
                .where(shop_leases.c.holder == instance, shop_leases.c.shop.in_(wanted))
                .values(expires_at=func.now() + ttl)
                .returning(shop_leases.c.shop)
            )
            return {row.shop for row in rows}

    async def acquire(
        self, instance: str, shops: Iterable[str], limit: int, ttl: timedelta
    ) -> set[str]:
        """Take up to ``limit`` free (or lapsed) leases among ``shops``."""
        candidates = sorted(shops)
        if limit <= 0 or not candidates:
            return set()
        free = or_(shop_leases.c.holder.is_(None), shop_leases.c.expires_at <= func.now())
        pick = (
            select(shop_leases.c.shop)
            .where(free, shop_leases.c.shop.in_(candidates))
            .order_by(shop_leases.c.shop)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.engine.begin() as conn:
            rows = await conn.execute(
                update(shop_leases)
                .where(and_(shop_leases.c.shop.in_(pick.scalar_subquery()), free))
                .values(holder=instance, expires_at=func.now() + ttl, acquired_at=func.now())
                .returning(shop_leases.c.shop)
            )
            return {row.shop for row in rows}

    async def release(self, instance: str, shops: Iterable[str]) -> None:
        """Give leases back at once (rebalancing, or a clean stop): free for the taking."""
        released = sorted(shops)
        if not released:
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                update(shop_leases)
                .where(shop_leases.c.holder == instance, shop_leases.c.shop.in_(released))
                .values(holder=None, expires_at=func.now())
            )

    async def leave(self, instance: str) -> None:
        """A clean stop: every lease given back and the heartbeat removed."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(shop_leases)
                .where(shop_leases.c.holder == instance)
                .values(holder=None, expires_at=func.now())
            )
            await conn.execute(
                delete(daemon_instances).where(daemon_instances.c.instance == instance)
            )

    async def next_lapse(self, instance: str) -> float | None:
        """Seconds until the first live lease of another instance lapses, on the database's
        clock (None: no other instance holds one)."""
        query = select(func.min(shop_leases.c.expires_at) - func.now()).where(
            shop_leases.c.holder.is_not(None),
            shop_leases.c.holder != instance,
            shop_leases.c.expires_at > func.now(),
        )
        async with self.engine.connect() as conn:
            left = (await conn.execute(query)).scalar_one()
        return None if left is None else max(0.0, left.total_seconds())

    async def holders(self) -> dict[str, str | None]:
        """Every shop's current holder (None: free or lapsed)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    shop_leases.c.shop,
                    shop_leases.c.holder,
                    (shop_leases.c.expires_at > func.now()).label("live"),
                )
            )
            return {row.shop: row.holder if row.live else None for row in rows}
