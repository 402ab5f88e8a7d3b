"""What the user page asks of the store, on SQLite and (when configured) PostgreSQL: one-time
passwords, choosing one's own, roles, the last active lead (also when two leads disable each
other at the same moment), the last sign-in; and migration 0011 both ways over a user."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.errors import BadInput, Conflict
from daemon.store.users import LastLead, UserBook, generated_password
from tests.conftest import move_schema

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)


async def _book(engine: AsyncEngine) -> UserBook:
    book = UserBook(engine, CHEAP)
    for name, role, agent in (("zhou", "lead", None), ("li", "agent", "a1")):
        await book.add(
            name=name,
            role=role,
            agent=agent,
            password="long enough pw",
            by="t",
            now=NOW,
            roster={"a1", "a2"},
        )
    return book


def test_a_generated_password_is_long_and_unambiguous() -> None:
    seen = {generated_password() for _ in range(200)}
    assert len(seen) == 200
    for password in seen:
        assert re.fullmatch(r"[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}", password), password


async def test_one_time_passwords_roles_and_the_last_sign_in(engine: AsyncEngine) -> None:
    book = await _book(engine)
    once = generated_password()
    reset = await book.set_password("li", once, by="zhou", now=NOW, temporary=True, reason="lost")
    assert reset.password_temporary and reset.session_epoch == 1
    assert await book.verify("li", once) is not None  # it signs in, then must be replaced
    with pytest.raises(BadInput) as wrong:
        await book.choose_password(reset.id, "not it", "li's own password", now=NOW)
    assert wrong.value.field == "current"
    with pytest.raises(BadInput) as same:
        await book.choose_password(reset.id, once, once, now=NOW)
    assert same.value.field == "password"
    chosen = await book.choose_password(reset.id, once, "li's own password", now=NOW)
    assert not chosen.password_temporary and chosen.session_epoch == 2
    assert await book.verify("li", once) is None

    with pytest.raises(BadInput) as no_link:
        await book.set_role("li", "agent", agent=None, by="zhou", now=NOW, roster={"a1"})
    assert no_link.value.field == "agent"
    with pytest.raises(Conflict):
        await book.set_role("li", "agent", agent="a1", by="zhou", now=NOW, roster={"a1"})
    moved = await book.set_role("li", "agent", agent="a2", by="zhou", now=NOW, roster={"a2"})
    assert moved.agent == "a2"
    promoted = await book.set_role("li", "supervisor", by="zhou", now=NOW, roster=(), reason="r")
    assert (promoted.role, promoted.agent, promoted.decides) == ("supervisor", None, True)

    assert promoted.last_signed_in_at is None
    await book.signed_in(promoted.id, NOW + timedelta(hours=1))
    assert (await book.by_name("li")).last_signed_in_at == NOW + timedelta(hours=1)
    trail = await book.audit("li")
    assert [e["action"] for e in trail] == ["added", "password", "password", "role", "role"]
    assert trail[1]["details"] == {"temporary": True, "reason": "lost"}
    assert trail[2]["by"] == "li" and trail[2]["details"] == {"own": True}
    assert trail[4]["details"] == {
        "from": "agent",
        "to": "supervisor",
        "agent": None,
        "reason": "r",
    }


async def test_two_leads_disabling_each_other_leave_one(engine: AsyncEngine) -> None:
    book = await _book(engine)
    await book.set_role("li", "lead", by="zhou", now=NOW, roster=())
    await book.set_active("zhou", False, by="li", now=NOW)
    with pytest.raises(LastLead):
        await book.set_active("li", False, by="t", now=NOW)
    await book.set_active("zhou", True, by="li", now=NOW)
    results = await asyncio.gather(
        book.set_active("zhou", False, by="li", now=NOW),
        book.set_active("li", False, by="zhou", now=NOW),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, Exception)]
    # PostgreSQL locks the leads' rows: the second waits and finds itself the last lead.
    # SQLite refuses the second writer outright (its snapshot is stale): an error, no harm.
    assert len(refused) == 1 and isinstance(refused[0], LastLead | OperationalError), results
    leads = [u for u in await book.all() if u.role == "lead" and u.active]
    assert len(leads) == 1


async def test_migration_0011_both_ways(engine: AsyncEngine) -> None:
    book = await _book(engine)
    await book.signed_in((await book.by_name("li")).id, NOW)
    async with engine.begin() as conn:
        await conn.run_sync(move_schema, "0010", True)
    async with engine.begin() as conn:
        await conn.run_sync(move_schema, "head", False)
    li = await book.by_name("li")
    assert (li.last_signed_in_at, li.password_temporary) == (None, False)
    assert await book.verify("li", "long enough pw") == li


@pytest.mark.parametrize(("reason", "says"), [("x" * 4001, "at most 4000"), ("a\x00b", "NUL")])
async def test_a_reason_is_checked_in_the_book_for_every_way_in(
    engine: AsyncEngine, reason: str, says: str
) -> None:
    """The console and the CLI both write a user's trail through the book: a reason too long
    or holding NUL (PostgreSQL cannot store it) is refused there, naming it, and nothing
    changes."""
    book = await _book(engine)
    with pytest.raises(BadInput, match=says) as refused:
        await book.set_active("li", False, by="zhou", now=NOW, reason=reason)
    assert refused.value.field == "reason"
    assert (await book.by_name("li")).active


async def test_disabling_a_disabled_user_is_a_conflict_for_every_way_in(
    engine: AsyncEngine,
) -> None:
    """The console answered 409 on its own; the CLI's second `user disable` ended sessions
    again and wrote a second trail entry. The book refuses it for both."""
    book = await _book(engine)
    await book.set_active("li", False, by="zhou", now=NOW, reason="left")
    with pytest.raises(Conflict, match="disabled already"):
        await book.set_active("li", False, by="zhou", now=NOW, reason="again")
    assert [e["action"] for e in await book.audit("li")].count("disabled") == 1
