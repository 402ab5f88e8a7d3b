"""The people who sign in to the console (SPEC §8): a name, a role, an argon2 hash.

Roles: ``agent`` (linked to a roster id: sees and appeals their own violations),
``supervisor`` (sees everything, decides), ``lead`` (a supervisor who may also reopen a closed
month and manage users). A password is stored only as an argon2id hash; changing it or
disabling the user raises ``session_epoch``, which ends every session signed in before.
Every change lands in ``user_events`` with who made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from daemon.errors import BadInput, Conflict, NotFound
from daemon.store.tables import user_events, users

ROLES = ("agent", "supervisor", "lead")
NAME_MAX = 64
PASSWORD_MIN = 10
PASSWORD_MAX = 1024
"""Longer is refused before hashing: argon2 would take it, a request flood should not."""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: int
    name: str
    role: str
    agent: str | None
    active: bool
    session_epoch: int

    @property
    def decides(self) -> bool:
        """Supervisors and leads see everything and decide (SPEC §8)."""
        return self.role in ("supervisor", "lead")

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        agent=row.agent,
        active=bool(row.active),
        session_epoch=row.session_epoch,
    )


def checked_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadInput("required: the name people sign in with", field="name")
    text: str = name.strip()
    if len(text) > NAME_MAX:
        raise BadInput(f"at most {NAME_MAX} characters", field="name")
    if not text.isprintable() or any(c.isspace() for c in text):
        raise BadInput("no spaces or control characters", field="name")
    return text


def checked_password(password: Any) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        raise BadInput(f"at least {PASSWORD_MIN} characters", field="password")
    if len(password) > PASSWORD_MAX:
        raise BadInput(f"at most {PASSWORD_MAX} characters", field="password")
    if "\x00" in password:
        raise BadInput("must not contain NUL characters", field="password")
    return password


class UserBook:
    """Users and their trail. ``hasher`` is argon2id with the library's defaults (RFC 9106's
    second recommendation); tests pass a cheaper one."""

    def __init__(self, engine: AsyncEngine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    async def _hash(self, password: str) -> str:
        # argon2 is deliberately slow (tens of ms): off the event loop.
        return await asyncio.to_thread(self.hasher.hash, password)

    async def add(
        self,
        *,
        name: Any,
        role: Any,
        password: Any,
        agent: Any = None,
        by: str,
        now: datetime,
        roster: Collection[str],
    ) -> User:
        name = checked_name(name)
        if role not in ROLES:
            raise BadInput(f"must be one of {', '.join(ROLES)}", field="role")
        if role == "agent":
            if not isinstance(agent, str) or not agent.strip():
                raise BadInput("an agent's user names their roster id", field="agent")
            agent = agent.strip()
            if agent not in roster:
                raise BadInput(f"{agent!r} is not on the roster ([[agents]])", field="agent")
        elif agent is not None:
            raise BadInput("only an agent's user is linked to a roster id", field="agent")
        digest = await self._hash(checked_password(password))
        try:
            async with self.engine.begin() as conn:
                new_id = (
                    await conn.execute(
                        users.insert()
                        .values(
                            name=name,
                            role=role,
                            agent=agent,
                            password_hash=digest,
                            active=True,
                            session_epoch=0,
                            created_at=now,
                            updated_at=now,
                        )
                        .returning(users.c.id)
                    )
                ).scalar_one()
                await _audit(conn, new_id, now, "added", by, {"role": role, "agent": agent})
        except IntegrityError:
            raise Conflict(f"a user named {name!r} exists already", field="name") from None
        return await self.by_id(new_id)

    async def set_password(self, name: str, password: Any, *, by: str, now: datetime) -> User:
        """A new password; every session signed in with the old one ends."""
        digest = await self._hash(checked_password(password))
        user = await self.by_name(name)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(
                    password_hash=digest,
                    session_epoch=users.c.session_epoch + 1,
                    updated_at=now,
                )
            )
            await _audit(conn, user.id, now, "password", by, {})
        return await self.by_id(user.id)

    async def set_active(self, name: str, active: bool, *, by: str, now: datetime) -> User:
        """Disable (their sessions end at once) or enable a user; the row and trail stay."""
        user = await self.by_name(name)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(active=active, session_epoch=users.c.session_epoch + 1, updated_at=now)
            )
            await _audit(conn, user.id, now, "enabled" if active else "disabled", by, {})
        return await self.by_id(user.id)

    async def by_name(self, name: str) -> User:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        if row is None:
            raise NotFound(f"no user named {name!r}", field="name")
        return _user(row)

    async def by_id(self, user_id: int) -> User:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
        if row is None:
            raise NotFound(f"no user with id {user_id}", field="id")
        return _user(row)

    async def all(self) -> list[User]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(users).order_by(users.c.role, users.c.name))
            return [_user(row) for row in rows]

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def verify(self, name: str, password: str) -> User | None:
        """The active user with this name and password, else None. An unknown name costs
        as much as a wrong password, so the answer's time tells nothing."""
        if not isinstance(password, str) or len(password) > PASSWORD_MAX:
            return None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(users).where(users.c.name == (name or "").strip()[:NAME_MAX])
                )
            ).first()
        if row is None:
            if self._dummy is None:
                self._dummy = await self._hash("not anybody's password")
            await self._check(self._dummy, password)
            return None
        if not await self._check(row.password_hash, password) or not row.active:
            return None
        if self.hasher.check_needs_rehash(row.password_hash):
            digest = await self._hash(password)
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(users).where(users.c.id == row.id).values(password_hash=digest)
                )
        return _user(row)

    async def _check(self, digest: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self.hasher.verify, digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def audit(self, name: str) -> list[dict[str, Any]]:
        user = await self.by_name(name)
        query = select(user_events).where(user_events.c.user_id == user.id)
        async with self.engine.connect() as conn:
            return [
                {"at": r.at.isoformat(), "action": r.action, "by": r.by, "details": r.details}
                for r in await conn.execute(query.order_by(user_events.c.id))
            ]


async def _audit(
    conn: AsyncConnection,
    user_id: int,
    at: datetime,
    action: str,
    by: str,
    details: dict[str, Any],
) -> None:
    await conn.execute(
        user_events.insert().values(
            user_id=user_id, at=at, action=action, by=by[:128], details=details
        )
    )
