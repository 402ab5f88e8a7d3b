"""What-if replay: the daemon's own evaluator fills the ledger under the current config; a
replay with CS101 `within = "30m"` shows who would lose points — and writes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.model import Direction, Stream
from daemon.config.settings import Settings
from daemon.scoring.replay import RuleCount, Side, TeamCount, render_replay, replay
from daemon.simulator.world import new_message, new_order
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore, StreamState
from daemon.store.tables import (
    bonuses,
    scorecard_events,
    undecidable_subjects,
    violation_events,
    violations,
)
from daemon.watch.evaluator import ShopEvaluator
from daemon.watch.metrics import Metrics
from tests.conftest import FakeClock

from .support import POLICY, at, make_settings

NOW = at("2026-11-02 12:00")  # a Monday; day shift 08:30–17:30 with a1 and a2


class _Polled:
    """What the evaluator asks a poller for: its stream state."""

    def __init__(self, state: StreamState) -> None:
        self.state = state


async def _morning(store: ObservationStore) -> None:
    """o-1: a1 wrote 09:50, order 10:00, chased 10:45 (fine within 60 min, late for 30).
    o-2: never chased, nobody wrote (team level either way).
    o-4: a1 wrote 08:35, order 08:40, never chased (a1's either way; the ledger waives it)."""
    messages = [
        ("m-1", "b-1", "09:50"),
        ("m-2", "b-1", "10:45"),
        ("m-4", "b-4", "08:35"),
    ]
    await store.save_messages(
        "s",
        [
            new_message(
                message_id=mid,
                buyer_id=buyer,
                at=at(f"2026-11-02 {hhmm}"),
                direction=Direction.AGENT,
                agent_id="a1",
                text="亲，在的",
            )
            for mid, buyer, hhmm in messages
        ],
        NOW,
    )
    orders = [("o-1", "b-1", "10:00"), ("o-2", "b-2", "09:00"), ("o-4", "b-4", "08:40")]
    await store.save_orders(
        "s",
        [
            new_order(order_id=oid, buyer_id=buyer, at=at(f"2026-11-02 {hhmm}"))
            for oid, buyer, hhmm in orders
        ],
        NOW,
    )


async def _daemon_records(engine: AsyncEngine, settings: Settings) -> Ledger:
    store = ObservationStore(engine)
    await _morning(store)
    pollers = {}
    for stream in Stream:
        await store.start_stream("s", stream, at("2026-11-01 00:00"), NOW)
        await store.advance_watermark("s", stream, at("2026-11-02 11:59"), NOW)
        state = await store.stream_state("s", stream)
        assert state is not None
        pollers[stream] = _Polled(state)
    ledger = Ledger(engine)
    evaluator = ShopEvaluator(
        shop="s",
        settings=settings,
        store=store,
        ledger=ledger,
        metrics=Metrics(version="test", roster=settings.roster),
        clock=FakeClock(NOW),
        pollers=pollers,  # type: ignore[arg-type]
    )
    await evaluator.tick()
    return ledger


async def _counts(engine: AsyncEngine) -> list[int]:
    tables = (violations, violation_events, undecidable_subjects, bonuses, scorecard_events)
    async with engine.connect() as conn:
        return [
            (await conn.execute(select(func.count()).select_from(t))).scalar_one() for t in tables
        ]


async def test_a_shorter_cs101_window_costs_a1_an_order(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    current = make_settings(tmp_path, database_url)
    other = make_settings(
        tmp_path, database_url, extra='[rules.CS101]\nwithin = "30m"', name="stricter"
    )
    ledger = await _daemon_records(engine, current)
    recorded = {v["subject"]["id"]: (v["agent"], v["status"]) for v in await ledger.find()}
    assert recorded == {"o-2": (None, "open"), "o-4": ("a1", "open")}
    (o4,) = [v for v in await ledger.find() if v["subject"]["id"] == "o-4"]
    await ledger.set_status(o4["id"], "waived", by="boss", reason="new starter", now=NOW)
    before = await _counts(engine)

    result = await replay(engine, current, other, "2026-11", policy=POLICY, now=NOW)

    assert await _counts(engine) == before, "a replay writes nothing"
    a1 = next(a for a in result.agents if a.agent == "a1")
    assert a1.current == Side(violations=0, points=0, score=80, grade="B")
    assert a1.replayed == Side(
        violations=1, points=2, score=78, grade="C", pay_adjustment=Decimal(-20), fines=Decimal(5)
    ), "o-1 becomes a1's; the waived o-4 stays waived"
    assert [a.changed for a in result.agents] == [True, False, False]
    assert result.rules == (RuleCount(rule="CS101", current=1, replayed=2),)
    assert result.team_current == result.team_replayed == TeamCount(violations=1, points=2)
    assert (result.current_config, result.other_config) == (current.config_file, other.config_file)

    text = render_replay(result)
    assert "What-if replay 2026-11" in text
    a1_line = next(line for line in text.splitlines() if line.startswith("a1"))
    for change in ("0 → 1", "0 → 2", "80 → 78", "B → C", "0 → -20"):
        assert change in a1_line
    assert "CS101 1 → 2" in text


async def test_replaying_the_current_config_changes_nothing(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    current = make_settings(tmp_path, database_url)
    await _daemon_records(engine, current)
    result = await replay(engine, current, current, "2026-11", policy=POLICY, now=NOW)
    assert not any(a.changed for a in result.agents)
    assert "no agent's scorecard would change" in render_replay(result)


async def test_a_shop_without_stored_history_is_reported(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    current = make_settings(tmp_path, database_url)
    result = await replay(engine, current, current, "2026-11", policy=POLICY, now=NOW)
    assert result.skipped_shops == ("s",)
    assert "shops without stored history: s" in render_replay(result)
