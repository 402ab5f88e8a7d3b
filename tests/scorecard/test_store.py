"""The scorecard from the store (SQLite and PostgreSQL): the ledger, bonuses and adjustments
with their audit trail, manual catalogue entries, conversion, and the CLI renderings."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from checks.subject import Breach, Subject
from connectors.model import Direction, OrderStatus, Stream
from daemon.config.settings import Settings
from daemon.errors import BadInput, Conflict, NotFound
from daemon.scoring.entries import (
    add_bonus,
    record_manual_violation,
    revoke_bonus,
    scorecard_audit,
    set_adjustment,
)
from daemon.scoring.records import load_scorecard, parse_month
from daemon.scoring.render import render, scorecard_json
from daemon.simulator.world import new_message, new_order
from daemon.store import migrate
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore
from daemon.store.tables import bonuses, score_adjustments, scorecard_events

from .support import NOVEMBER, POLICY, at, make_settings

NOW = at("2026-11-20 12:00")


def breach(subject: str, agent: str | None, deadline: str, points: int = 2) -> Breach:
    return Breach(
        subject=Subject(rule="CS101", type="order", id=subject, buyer_id="b-1"),
        deadline=at(deadline),
        agent=agent,
        shift="day",
        tier=None,
        points=points,
        fine=Decimal(5),
        final=True,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


async def api_card(engine: AsyncEngine, settings: Settings, *, now: datetime) -> dict[str, Any]:
    """November's scorecard from the store, as GET /api/scorecard answers it."""
    card = await load_scorecard(engine, settings, NOVEMBER, policy=POLICY, now=now)
    return scorecard_json(card)


def row(card: dict[str, Any], agent: str) -> dict[str, Any]:
    return next(a for a in card["agents"] if a["agent"] == agent)


async def test_migration_creates_the_scorecard_tables(engine: AsyncEngine) -> None:
    assert await migrate.current_revision(engine) == migrate.head_revision()
    async with engine.connect() as conn:
        for table in (bonuses, score_adjustments, scorecard_events):
            assert (await conn.execute(select(func.count()).select_from(table))).scalar() == 0


async def test_the_ledger_makes_the_score_and_a_waiver_takes_it_back(
    engine: AsyncEngine, settings: Settings
) -> None:
    ledger = Ledger(engine)
    first = await ledger.record("s", breach("o-1", "a1", "2026-11-02 11:00"), NOW)
    await ledger.record("s", breach("o-2", "a1", "2026-11-03 11:00"), NOW)
    await ledger.record("s", breach("o-3", None, "2026-11-03 12:00"), NOW)
    await ledger.record("s", breach("o-4", "a1", "2026-10-31 11:00"), NOW)  # October

    card = await api_card(engine, settings, now=NOW)
    assert card["month"] == "2026-11"
    assert [a["agent"] for a in card["agents"]] == ["a1", "a2", "a3"]
    a1 = row(card, "a1")
    assert (a1["score"], a1["grade"], a1["points_deducted"], a1["fines"]) == (76, "C", 4, 10)
    assert (a1["pay_adjustment"], a1["name"]) == (-40, "李娜")
    assert card["team"] == {"violations": 1, "points": 2}
    a3 = row(card, "a3")
    assert (a3["score"], a3["pay_adjustment"], a3["flags"]) == (80, 0, ["probation"])

    await ledger.set_status(
        first.violation_id, "waived", by="boss", reason="system outage", now=NOW
    )
    a1 = row(await api_card(engine, settings, now=NOW), "a1")
    assert (a1["score"], a1["points_deducted"], a1["fines"], a1["violations"]) == (78, 2, 5, 1)


def test_a_malformed_month_is_bad_input_naming_the_month() -> None:
    for month in ("2026-13", "November", ""):
        with pytest.raises(BadInput, match="expected YYYY-MM") as refused:
            parse_month(month)
        assert (refused.value.field, refused.value.status) == ("month", 400)
        assert not isinstance(refused.value, ValueError), "a bug's ValueError is never a 400"


async def test_bonuses_with_their_audit_trail(engine: AsyncEngine, settings: Settings) -> None:
    granted = await add_bonus(
        engine,
        settings,
        agent="a1",
        code="B203",
        day="2026-11-07",
        by="boss",
        reason="covered the Double 11 night",
        now=NOW,
        policy=POLICY,
    )
    assert (granted["month"], granted["points"], granted["status"]) == ("2026-11", 5, "active")
    await add_bonus(
        engine, settings, agent="a1", code="B202", day=date(2026, 11, 8), by="boss",
        reason="full marks", now=NOW, policy=POLICY,
    )  # fmt: skip
    with pytest.raises(Conflict, match="at most 1") as refused:
        await add_bonus(
            engine, settings, agent="a1", code="B202", day="2026-11-28", by="boss",
            reason="again", now=NOW, policy=POLICY,
        )  # fmt: skip
    assert (refused.value.field, refused.value.status) == ("code", 409)
    assert row(await api_card(engine, settings, now=NOW), "a1")["bonus"] == 10

    revoked = await revoke_bonus(engine, granted["id"], by="boss", reason="wrong agent", now=NOW)
    assert revoked["status"] == "revoked"
    assert row(await api_card(engine, settings, now=NOW), "a1")["bonus"] == 5
    with pytest.raises(Conflict, match="already revoked") as conflict:
        await revoke_bonus(engine, granted["id"], by="boss", reason="again", now=NOW)
    assert (conflict.value.field, conflict.value.status) == ("id", 409)
    with pytest.raises(NotFound, match="no bonus with id 999") as missing:
        await revoke_bonus(engine, 999, by="boss", reason="typo", now=NOW)
    assert (missing.value.field, missing.value.status) == ("id", 404)

    trail = await scorecard_audit(engine, "2026-11", agent="a1")
    assert [(e["action"], e["details"].get("code")) for e in trail] == [
        ("granted", "B203"),
        ("granted", "B202"),
        ("revoked", "B203"),
    ]
    assert trail[-1]["reason"] == "wrong agent"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"code": "B999"}, "code", "B999"),
        ({"code": "M201"}, "code", "not a bonus"),
        ({"agent": "zz"}, "agent", "roster"),
        ({"reason": " "}, "reason", "required"),
        ({"by": ""}, "by", "required"),
        ({"day": "11/07"}, "day", "YYYY-MM-DD"),
        ({"day": None}, "day", "required"),
        ({"points": 7}, "points", "5–5"),
    ],
)
async def test_a_bad_bonus_is_refused_naming_its_field(
    engine: AsyncEngine,
    settings: Settings,
    changes: dict,  # type: ignore[type-arg]
    field: str,
    message: str,
) -> None:
    request = dict(
        agent="a1", code="B203", day="2026-11-07", by="boss", reason="why", now=NOW, policy=POLICY
    )
    with pytest.raises(BadInput, match=message) as refused:
        await add_bonus(engine, settings, **{**request, **changes})
    assert refused.value.field == field and str(refused.value).startswith(f"{field}: ")


async def test_the_supervisor_adjustment(engine: AsyncEngine, settings: Settings) -> None:
    async def set_to(value: int, reason: str = "team lead extra work") -> dict:  # type: ignore[type-arg]
        return await set_adjustment(
            engine, settings, agent="a2", month="2026-11", value=value, reason=reason, by="boss",
            now=NOW, policy=POLICY,
        )  # fmt: skip

    await set_to(3)
    await set_to(-2, "rude to a colleague")
    a2 = row(await api_card(engine, settings, now=NOW), "a2")
    assert (a2["adjustment"], a2["adjustment_reason"], a2["score"]) == (
        -2,
        "rude to a colleague",
        78,
    )
    for bad in (6, -6):
        with pytest.raises(BadInput, match="−5 to \\+5") as refused:
            await set_to(bad)
        assert refused.value.field == "value"
    with pytest.raises(BadInput, match="required") as refused:
        await set_to(1, "")
    assert refused.value.field == "reason"
    with pytest.raises(BadInput, match="expected YYYY-MM") as refused:
        await set_adjustment(
            engine,
            settings,
            agent="a2",
            month="2026/11",
            value=1,
            reason="x",
            by="b",
            now=NOW,
            policy=POLICY,
        )
    assert refused.value.field == "month"
    await set_to(0, "withdrawn")
    a2 = row(await api_card(engine, settings, now=NOW), "a2")
    assert (a2["adjustment"], a2["score"]) == (0, 80)
    trail = await scorecard_audit(engine, "2026-11")
    assert [(e["action"], e["details"]) for e in trail] == [
        ("set", {"from": 0, "to": 3}),
        ("set", {"from": 3, "to": -2}),
        ("cleared", {"from": -2, "to": 0}),
    ]


async def test_manual_violations_come_from_the_catalogue(
    engine: AsyncEngine, settings: Settings
) -> None:
    ledger = Ledger(engine)

    async def enter(code: str, **kwargs: object) -> dict:  # type: ignore[type-arg]
        return await record_manual_violation(
            ledger, settings, code=code, agent="a1", at=at("2026-11-05 08:45"), by="boss",
            note="spot check", now=NOW, policy=POLICY, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip

    late = await enter("M204", points=3)
    assert (late["rule"], late["points"], late["source"]) == ("M204", 3, "manual")
    assert late["audit"][0]["by"] == "boss"
    await enter("M403")  # a complaint: 0 points, the ladder's fine
    await enter("M403")
    for code, kwargs, field, message in [
        ("M204", {}, "points", "say how many"),
        ("M201", {"points": 4}, "points", "takes 2 points"),
        ("M227", {}, "rule", "computed"),
        ("M999", {}, "rule", "catalogue"),
        ("M226", {}, "fine", "at cost"),
    ]:
        with pytest.raises(BadInput, match=message) as refused:
            await enter(code, **kwargs)
        assert refused.value.field == field
    a1 = row(await api_card(engine, settings, now=NOW), "a1")
    assert (a1["points_deducted"], a1["score"], a1["fines"]) == (3, 77, 300)


async def test_last_place_below_70_twice_from_the_ledger(
    engine: AsyncEngine, settings: Settings
) -> None:
    ledger = Ledger(engine)
    for i, month in enumerate(("2026-10", "2026-11")):
        await ledger.record("s", breach(f"o-{i}", "a2", f"{month}-10 11:00", points=12), NOW)
    card = await api_card(engine, settings, now=NOW)
    assert {"last_place_below_70", "dismissal_review"} <= set(row(card, "a2")["flags"])
    assert "dismissal_review" not in row(card, "a1")["flags"]


async def _sale(store: ObservationStore) -> None:
    """a1 answers b-1 on Nov 30 at 22:00; b-1 pays 300 the next morning (in the window)."""
    order = new_order(
        order_id="o-9", buyer_id="b-1", at=at("2026-11-30 21:50"), amount=Decimal(300)
    )
    paid_at = at("2026-12-01 09:00")
    paid = replace(order, status=OrderStatus.PAID, paid_at=paid_at, updated_at=paid_at)
    await store.save_orders("s", [order, paid], NOW)
    question = new_message(
        message_id="m-1", buyer_id="b-1", at=at("2026-11-30 21:59"), direction=Direction.BUYER,
        text="还有货吗",
    )  # fmt: skip
    answer = new_message(
        message_id="m-2", buyer_id="b-1", at=at("2026-11-30 22:00"), direction=Direction.AGENT,
        agent_id="a1", text="有的亲",
    )  # fmt: skip
    auto = new_message(
        message_id="m-3", buyer_id="b-2", at=at("2026-11-30 22:00"), direction=Direction.AGENT,
        agent_id="a2", is_auto=True, text="自动回复",
    )  # fmt: skip
    await store.save_messages("s", [question, answer, auto], NOW)


async def test_conversion_is_provisional_until_the_window_closes_then_final(
    engine: AsyncEngine, settings: Settings
) -> None:
    store = ObservationStore(engine)
    await _sale(store)
    start = at("2026-11-01 00:00")
    for stream in Stream:
        await store.start_stream("s", stream, start, start)

    async def conversion(now: datetime, watermark: datetime) -> dict:  # type: ignore[type-arg]
        for stream in Stream:
            await store.advance_watermark("s", stream, watermark, now)
        card = await api_card(engine, settings, now=now)
        return card | {"a1": row(card, "a1")["conversion"], "a2": row(card, "a2")["conversion"]}

    early = await conversion(at("2026-12-01 10:00"), at("2026-12-01 09:59"))
    assert early["conversion_status"] == "provisional"
    assert (early["a1"]["inquiries"], early["a1"]["converted"], early["a1"]["status"]) == (
        1,
        1,
        "provisional",
    )
    assert (early["a2"]["inquiries"], early["a2"]["status"]) == (0, "provisional"), (
        "an auto-reply is not an answer"
    )

    # Past the window by the clock, but the chat watermark lags: still provisional.
    lagging = await conversion(at("2026-12-02 00:05"), at("2026-12-01 23:00"))
    assert lagging["conversion_status"] == "provisional"

    final = await conversion(at("2026-12-02 00:05"), at("2026-12-02 00:01"))
    a1 = final["a1"]
    assert (final["conversion_status"], a1["status"]) == ("final", "final")
    assert (a1["rate"], a1["converted_sales"], a1["commission_rate"], a1["commission"]) == (
        1.0,
        300,
        0.015,
        4.5,
    )
    assert (a1["top_agent"], a1["top_award"]) == (True, 50)


async def test_renderings_for_the_cli(engine: AsyncEngine, settings: Settings) -> None:
    await Ledger(engine).record("s", breach("o-1", "a1", "2026-11-02 11:00"), NOW)
    card = await load_scorecard(engine, settings, NOVEMBER, policy=POLICY, now=NOW)

    assert json.loads(render(card, "json")) == scorecard_json(card)
    rows = list(csv.DictReader(io.StringIO(render(card, "csv"))))
    assert [(r["agent"], r["score"], r["grade"], r["pay_adjustment"]) for r in rows] == [
        ("a1", "78", "C", "-20"),
        ("a2", "80", "B", "0"),
        ("a3", "80", "B", "0"),
    ]
    assert rows[2]["flags"] == "probation" and rows[0]["name"] == "李娜"

    text = render(card, "table")
    lines = text.splitlines()
    assert lines[0].startswith("Scorecard 2026-11 (Asia/Shanghai)")
    a1_line = next(line for line in lines if line.startswith("a1"))
    assert "李娜" in a1_line and " 78 " in a1_line and "-20" in a1_line
    assert "team level (no agent): 0 violation(s)" in text
    with pytest.raises(ValueError, match="table, csv or json"):
        render(card, "xml")
