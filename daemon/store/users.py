"""The people who sign in to the console (SPEC §8): a name, a role, an argon2 hash.

Roles: ``agent`` (linked to a roster id: sees and appeals their own violations),
``supervisor`` (sees everything, decides), ``lead`` (a supervisor who may also reopen a closed
month and manage users). A password is stored only as an argon2id hash; changing it or
disabling the user raises ``session_epoch``, which ends every session signed in before.
A password set for somebody else — one a lead had generated (:func:`generated_password`), or
one an operator set with ``shopwatch user … --one-time`` — is *temporary*: it opens nothing
but the page where its owner chooses their own. There is always an active lead: the
last one can be neither disabled nor given another role, or nobody could manage users.
Every change lands in ``user_events`` with who made it and, where one was given, why.
"""

from __future__ import annotations

import asyncio
import secrets
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
from daemon.store.people import checked_reason
from daemon.store.tables import user_events, users

ROLES = ("agent", "supervisor", "lead")
NAME_MAX = 64
PASSWORD_MIN = 10
PASSWORD_MAX = 1024
"""Longer is refused before hashing: argon2 would take it, a request flood should not."""
GENERATED_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""Lower-case letters and digits that cannot be misread for each other (no 0/o, 1/l/i):
a generated password is read aloud or copied from a phone."""
GENERATED_GROUPS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    id: int
    name: str
    role: str
    agent: str | None
    active: bool
    session_epoch: int
    last_signed_in_at: datetime | None = None
    password_temporary: bool = False

    @property
    def decides(self) -> bool:
        """Supervisors and leads see everything and decide (SPEC §8)."""
        return self.role in ("supervisor", "lead")

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


class LastLead(Conflict):
    """The change would leave nobody to manage users: no active lead."""


def _user(row: Any) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=row.role,
        agent=row.agent,
        active=bool(row.active),
        session_epoch=row.session_epoch,
        last_signed_in_at=row.last_signed_in_at,
        password_temporary=bool(row.password_temporary),
    )


def generated_password() -> str:
    """A one-time password for a lead to hand over: four groups of four (``k7rp-3xm9-…``),
    about 79 bits from the OS's randomness."""
    return "-".join(
        "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(4))
        for _ in range(GENERATED_GROUPS)
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


def checked_link(role: Any, agent: Any, roster: Collection[str]) -> str | None:
    """The roster id a user of ``role`` is linked to: an agent's is required and on the
    roster, the other roles have none."""
    if role not in ROLES:
        raise BadInput(f"must be one of {', '.join(ROLES)}", field="role")
    if role != "agent":
        if agent is not None and agent != "":
            raise BadInput("only an agent's user is linked to a roster id", field="agent")
        return None
    if not isinstance(agent, str) or not agent.strip():
        raise BadInput("an agent's user names their roster id", field="agent")
    agent = agent.strip()
    if agent not in roster:
        raise BadInput(f"{agent!r} is not on the roster ([[agents]])", field="agent")
    text: str = agent
    return text


def _why(reason: str | None) -> dict[str, Any]:
    """The trail's reason, checked here for every way in (the console, the CLI)."""
    kept = checked_reason(reason)
    return {"reason": kept} if kept else {}


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
        temporary: bool = False,
        reason: str | None = None,
    ) -> User:
        """A new user; ``temporary``: the password was set for them by somebody else, to be
        replaced at their first sign-in."""
        name = checked_name(name)
        agent = checked_link(role, agent, roster)
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
                            password_temporary=temporary,
                        )
                        .returning(users.c.id)
                    )
                ).scalar_one()
                details = {"role": role, "agent": agent, **_why(reason)}
                await _audit(conn, new_id, now, "added", by, details)
        except IntegrityError:
            raise Conflict(f"a user named {name!r} exists already", field="name") from None
        return await self.by_id(new_id)

    async def set_password(
        self,
        name: str,
        password: Any,
        *,
        by: str,
        now: datetime,
        temporary: bool = False,
        reason: str | None = None,
    ) -> User:
        """A new password; every session signed in with the old one ends. ``temporary``:
        set for them by a lead or an operator, to be replaced at the next sign-in."""
        digest = await self._hash(checked_password(password))
        user = await self.by_name(name)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(
                    password_hash=digest,
                    password_temporary=temporary,
                    session_epoch=users.c.session_epoch + 1,
                    updated_at=now,
                )
            )
            details = {"temporary": True, **_why(reason)} if temporary else _why(reason)
            await _audit(conn, user.id, now, "password", by, details)
        return await self.by_id(user.id)

    async def choose_password(
        self, user_id: int, current: Any, password: Any, *, now: datetime
    ) -> User:
        """The signed-in person's own new password, given the one they signed in with (a
        temporary one included): their other sessions end; theirs is the caller's to renew."""
        user = await self.by_id(user_id)
        async with self.engine.connect() as conn:
            digest = (
                await conn.execute(select(users.c.password_hash).where(users.c.id == user.id))
            ).scalar_one()
        if not isinstance(current, str) or not await self._check(digest, current):
            raise BadInput("not your current password", field="current")
        if password == current:
            raise BadInput("choose a password other than the current one", field="password")
        new_digest = await self._hash(checked_password(password))
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(
                    password_hash=new_digest,
                    password_temporary=False,
                    session_epoch=users.c.session_epoch + 1,
                    updated_at=now,
                )
            )
            await _audit(conn, user.id, now, "password", user.name, {"own": True})
        return await self.by_id(user.id)

    async def set_active(
        self, name: str, active: bool, *, by: str, now: datetime, reason: str | None = None
    ) -> User:
        """Disable (their sessions end at once) or enable a user; the row and trail stay.
        The last active lead is not disabled; a user who is so already is a conflict (no
        second trail entry, no sessions ended for nothing)."""
        user = await self.by_name(name)
        action = "enabled" if active else "disabled"
        if user.active == active:
            raise Conflict(f"{user.name} is {action} already", field="name")
        async with self.engine.begin() as conn:
            takes_a_lead = user.is_lead and not active
            if takes_a_lead:
                await _lock_leads(conn)
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(active=active, session_epoch=users.c.session_epoch + 1, updated_at=now)
            )
            if takes_a_lead:
                await _keep_a_lead(conn, user)
            await _audit(conn, user.id, now, action, by, _why(reason))
        return await self.by_id(user.id)

    async def set_role(
        self,
        name: str,
        role: Any,
        *,
        agent: Any = None,
        by: str,
        now: datetime,
        roster: Collection[str],
        reason: str | None = None,
    ) -> User:
        """Another role (or, for an agent, another roster id). It applies from the user's
        next request: a session reads its user afresh each time. The last active lead keeps
        the role."""
        user = await self.by_name(name)
        link = checked_link(role, agent, roster)
        if (role, link) == (user.role, user.agent):
            raise Conflict(f"{user.name} is {role} already", field="role")
        async with self.engine.begin() as conn:
            takes_a_lead = user.is_lead and role != "lead"
            if takes_a_lead:
                await _lock_leads(conn)
            await conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(role=role, agent=link, updated_at=now)
            )
            if takes_a_lead:
                await _keep_a_lead(conn, user)
            details = {"from": user.role, "to": role, "agent": link, **_why(reason)}
            await _audit(conn, user.id, now, "role", by, details)
        return await self.by_id(user.id)

    async def signed_in(self, user_id: int, now: datetime) -> None:
        """Remember when the user last signed in (the user page shows it)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(last_signed_in_at=now)
            )

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


async def _lock_leads(conn: AsyncConnection) -> None:
    """Before a change that may take a lead away: lock the active leads' rows (PostgreSQL),
    so a second such change waits for this one and then sees it."""
    query = (
        select(users.c.id)
        .where(users.c.role == "lead", users.c.active.is_(True))
        .order_by(users.c.id)
        .with_for_update()
    )
    await conn.execute(query)


async def _keep_a_lead(conn: AsyncConnection, user: User) -> None:
    """After the change, in its transaction: refuse it (roll it back) if no active lead is
    left. Checked after the write, not before: on SQLite the write is what takes the
    database's lock, so two leads disabling each other at the same moment cannot both have
    read "two leads" first; on PostgreSQL :func:`_lock_leads` orders them."""
    query = select(func.count()).where(users.c.role == "lead", users.c.active.is_(True))
    if not (await conn.execute(query)).scalar_one():
        raise LastLead(
            f"{user.name} is the last active lead: make someone else lead first",
            field="name",
        )


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
