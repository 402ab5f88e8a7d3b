"""Users and closed months in the store, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from daemon.errors import BadInput, Conflict, NotFound
from daemon.scoring import frozen
from daemon.scoring.conversion import AgentConversion
from daemon.scoring.month import Month
from daemon.scoring.scorecard import AgentScore, Scorecard
from daemon.store.ledger import Ledger
from daemon.store.months import MonthBook
from daemon.store.users import UserBook

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
NOVEMBER = Month(2026, 11)


async def test_users_hash_verify_and_end_sessions(engine: AsyncEngine) -> None:
    book = UserBook(engine, CHEAP)
    user = await book.add(
        name="li",
        role="agent",
        agent="a1",
        password="long enough pw",
        by="t",
        now=NOW,
        roster={"a1"},
    )
    assert user.agent == "a1" and not user.decides
    with pytest.raises(Conflict):
        await book.add(
            name="li", role="lead", password="long enough pw", by="t", now=NOW, roster=()
        )
    with pytest.raises(BadInput) as short:
        await book.add(name="x", role="lead", password="short", by="t", now=NOW, roster=())
    assert short.value.field == "password"
    with pytest.raises(BadInput) as unknown:
        await book.add(
            name="y",
            role="agent",
            agent="a9",
            password="long enough pw",
            by="t",
            now=NOW,
            roster={"a1"},
        )
    assert unknown.value.field == "agent"
    assert (await book.verify("li", "long enough pw")) == user
    assert await book.verify("li", "wrong") is None
    assert await book.verify("nobody", "long enough pw") is None
    changed = await book.set_password("li", "another long pw", by="zhou", now=NOW)
    assert changed.session_epoch == user.session_epoch + 1
    assert await book.verify("li", "long enough pw") is None
    await book.set_active("li", False, by="zhou", now=NOW)
    assert await book.verify("li", "another long pw") is None
    assert [e["action"] for e in await book.audit("li")] == ["added", "password", "disabled"]
    with pytest.raises(NotFound):
        await book.set_password("nobody", "long enough pw", by="t", now=NOW)


async def test_a_closed_month_refuses_changes_until_reopened(engine: AsyncEngine) -> None:
    ledger = Ledger(engine)
    months = MonthBook(engine)
    v = await ledger.add_manual(
        shop="s",
        rule="M204",
        agent="a1",
        at=datetime(2026, 11, 30, 15, 59, tzinfo=UTC),
        points=5,
        fine=Decimal(0),
        note=None,
        by="chen",
        now=NOW,
    )  # 23:59 on the 30th in Shanghai: still November
    december = await ledger.add_manual(
        shop="s",
        rule="M204",
        agent="a1",
        at=datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
        points=5,
        fine=Decimal(0),
        note=None,
        by="chen",
        now=NOW,
    )  # 00:00 on 1 December in Shanghai
    await months.close(
        "2026-11",
        starts_at=NOVEMBER.start(TZ),
        ends_at=NOVEMBER.end(TZ),
        by="chen",
        reason="pay done",
        now=NOW,
    )
    with pytest.raises(Conflict) as closed:
        await ledger.set_status(v["id"], "waived", by="chen", reason="r", now=NOW)
    assert closed.value.field == "month" and "2026-11 is closed" in str(closed.value)
    with pytest.raises(Conflict):
        await ledger.appeal(v["id"], by="a1", reason="r", now=NOW)
    with pytest.raises(Conflict):
        await ledger.add_manual(
            shop="s",
            rule="M204",
            agent="a1",
            at=datetime(2026, 11, 3, tzinfo=UTC),
            points=5,
            fine=Decimal(0),
            note=None,
            by="chen",
            now=NOW,
        )
    assert (await ledger.get(v["id"]))["status"] == "open"  # nothing half-done
    waived = await ledger.set_status(december["id"], "waived", by="chen", reason="r", now=NOW)
    assert waived["status"] == "waived"  # the next month is open
    with pytest.raises(Conflict):
        await months.close(
            "2026-11",
            starts_at=NOVEMBER.start(TZ),
            ends_at=NOVEMBER.end(TZ),
            by="chen",
            reason="again",
            now=NOW,
        )
    with pytest.raises(BadInput):
        await months.reopen("2026-11", by="zhou", reason=" ", now=NOW)
    await months.reopen("2026-11", by="zhou", reason="a wrong fine", now=NOW + timedelta(1))
    assert (await ledger.set_status(v["id"], "waived", by="chen", reason="r", now=NOW))[
        "status"
    ] == "waived"
    with pytest.raises(Conflict):
        await months.reopen("2026-11", by="zhou", reason="twice", now=NOW)


def test_a_frozen_scorecard_thaws_equal() -> None:
    card = Scorecard(
        month=NOVEMBER,
        timezone="Asia/Shanghai",
        agents=(
            AgentScore(
                agent="a1",
                name="李",
                score=91,
                grade="A",
                violations=2,
                points_deducted=4,
                bonus=5,
                adjustment=-1,
                adjustment_reason="late once",
                pay_adjustment=Decimal(110),
                fines=Decimal("12.50"),
                probation=False,
                flags=("appeal_pending",),
                conversion=AgentConversion(
                    agent="a1",
                    inquiries=3,
                    converted=2,
                    converted_sales=Decimal("199.90"),
                    commission_rate=Decimal("0.01"),
                    commission=Decimal("2.00"),
                    final=False,
                    top=True,
                    months_on_top=2,
                    top_award=Decimal(100),
                    days={datetime(2026, 11, 2).date(): (3, 2)},
                ),
            ),
        ),
        team_violations=3,
        team_points=7,
        conversion_final=False,
    )
    assert frozen.thaw(frozen.freeze(card)) == card
