"""Records refused one by one (issue 17): the rest of the page is stored, each refused record
is logged and counted once, the watermark moves on, and no rule decides against the buyer
whose evidence lacks it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import structlog.testing
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.model import Direction, Page, Rejected, Stream
from daemon.simulator.world import new_message, new_order
from daemon.store.ledger import Ledger
from daemon.store.observations import ObservationStore, StreamState
from daemon.store.tables import undecidable_subjects
from daemon.watch.evaluator import ShopEvaluator
from daemon.watch.metrics import Metrics
from tests.conftest import FakeClock, move_schema
from tests.scorecard.support import at, make_settings

from .fakes import ScriptedSource
from .test_poller import Harness, sample

UNKNOWN_STATUS = Rejected(
    field="orders.nodes[1].displayFinancialStatus",
    error="'PENDING_REVIEW' is not one of AUTHORIZED, …",
    reason="displayFinancialStatus",
    key="o-2",
)


async def test_good_records_are_stored_the_bad_one_counted_and_the_watermark_moves(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t = clock.now() - timedelta(hours=1)
    good = [new_order(order_id=f"o-{i}", buyer_id=f"b-{i}", at=t) for i in (1, 3)]
    first = Page(items=tuple(good), next_page_token="p2", rejected=(UNKNOWN_STATUS,))
    source = ScriptedSource([first, Page(items=(), next_page_token=None)])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    with structlog.testing.capture_logs() as logs:
        assert await h.poller.poll() is True
    assert sorted(o.id for o in h.new) == ["o-1", "o-3"]
    assert h.poller.state is not None
    assert h.poller.state.watermark == clock.now() - timedelta(seconds=60)
    labels = {"shop": "s", "stream": "orders"}
    counted = {**labels, "reason": "displayFinancialStatus"}
    assert sample(h.metrics, "shopwatch_records_rejected_total", **counted) == 1
    assert sample(h.metrics, "shopwatch_pages_rejected_total", **labels) == 0
    assert sample(h.metrics, "shopwatch_stream_up", **labels) == 1
    (line,) = [e for e in logs if e["event"] == "record rejected"]
    assert (line["shop"], line["stream"], line["field"], line["order"]) == (
        "s",
        "orders",
        "orders.nodes[1].displayFinancialStatus",
        "o-2",
    )
    assert (await h.store.rejected_keys("s", t)).orders == {"o-2"}

    # The next poll re-reads the overlap and meets the same record: neither logged nor
    # counted again.
    clock.advance(timedelta(seconds=30))
    source.steps = [Page(items=(), next_page_token=None, rejected=(UNKNOWN_STATUS,))]
    with structlog.testing.capture_logs() as logs:
        assert await h.poller.poll() is True
    assert [e for e in logs if e["event"] == "record rejected"] == []
    assert sample(h.metrics, "shopwatch_records_rejected_total", **counted) == 1


async def test_a_page_none_of_whose_records_reads_is_rejected_whole(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """Every record failing is the platform's format changing: stop, as for any drift."""
    drift = tuple(
        Rejected(field=f"orders.nodes[{i}].updatedAt", error="missing", reason="updatedAt", key=k)
        for i, k in enumerate(("o-1", "o-2"))
    )
    source = ScriptedSource([Page(items=(), next_page_token=None, rejected=drift)])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    with structlog.testing.capture_logs() as logs:
        assert await h.poller.poll() is False
    (line,) = [e for e in logs if e["event"] == "page rejected"]
    assert line["field"] == "orders.nodes[0].updatedAt"
    assert "none of the page's 2 records reads" in line["error"]
    assert h.poller.state is not None
    assert h.poller.state.watermark == clock.now() - timedelta(hours=24), "the watermark stays"
    assert sample(h.metrics, "shopwatch_pages_rejected_total", shop="s", stream="orders") == 1
    assert (await h.store.rejected_keys("s", clock.now() - timedelta(days=1))).orders == set()


async def test_a_refused_message_is_remembered_by_its_conversation(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    t = clock.now() - timedelta(minutes=5)
    good = new_message(message_id="m-1", buyer_id="b", at=t, direction=Direction.BUYER, text="?")
    refused = Rejected(
        field="conversations[412].payload[1].message_type",
        error="expected an integer 0–3",
        reason="message_type",
        key="412",
    )
    source = ScriptedSource([Page(items=(good,), next_page_token=None, rejected=(refused,))])
    h = Harness(engine, clock, tmp_path, Stream.CHAT, source)
    with structlog.testing.capture_logs() as logs:
        assert await h.poller.poll() is True
    (line,) = [e for e in logs if e["event"] == "record rejected"]
    assert line["conversation"] == "412"
    assert (await h.store.rejected_keys("s", t)).conversations == {"412"}
    labels = {"shop": "s", "stream": "chat", "reason": "message_type"}
    assert sample(h.metrics, "shopwatch_records_rejected_total", **labels) == 1


# ---- the judge -------------------------------------------------------------------------------

NOW = at("2026-11-02 12:00")  # a Monday; day shift 08:30–17:30


class _Polled:
    def __init__(self, state: StreamState) -> None:
        self.state = state


async def evaluated(engine: AsyncEngine, tmp_path: Path, database_url: str) -> Metrics:
    """One evaluation of shop s at NOW, both streams read up to a minute before."""
    store = ObservationStore(engine)
    pollers = {}
    for stream in Stream:
        await store.start_stream("s", stream, at("2026-11-01 00:00"), NOW)
        await store.advance_watermark("s", stream, at("2026-11-02 11:59"), NOW)
        state = await store.stream_state("s", stream)
        assert state is not None
        pollers[stream] = _Polled(state)
    settings = make_settings(tmp_path, database_url)
    metrics = Metrics(version="test", roster=settings.roster)
    evaluator = ShopEvaluator(
        shop="s",
        settings=settings,
        store=store,
        ledger=Ledger(engine),
        metrics=metrics,
        clock=FakeClock(NOW),
        pollers=pollers,  # type: ignore[arg-type]
    )
    await evaluator.tick()
    return metrics


async def test_no_rule_decides_against_a_buyer_whose_order_lacks_a_refused_version(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    """o-2's later version was refused (it might have been the payment): its CS101 breach is
    undecidable (record_rejected). o-1, never chased either, is a violation as usual."""
    store = ObservationStore(engine)
    await store.save_orders(
        "s",
        [
            new_order(order_id="o-1", buyer_id="b-1", at=at("2026-11-02 09:00")),
            new_order(order_id="o-2", buyer_id="b-2", at=at("2026-11-02 09:00")),
        ],
        NOW,
    )
    await store.save_rejected("s", Stream.ORDERS, [("o-2", "displayFinancialStatus")], NOW)
    await store.save_rejected("s", Stream.ORDERS, [("o-2", "displayFinancialStatus")], NOW)
    metrics = await evaluated(engine, tmp_path, database_url)
    assert [v["subject"]["id"] for v in await Ledger(engine).find()] == ["o-1"]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(undecidable_subjects))).all()
    assert [(r.rule, r.subject_id, r.reason) for r in rows] == [("CS101", "o-2", "record_rejected")]
    labels = {"shop": "s", "rule": "CS101", "reason": "record_rejected"}
    assert sample(metrics, "shopwatch_undecidable_total", **labels) == 1


async def test_an_order_refused_at_its_first_version_spares_its_buyer(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    """o-2 was refused the first time it was seen, so nothing of it is stored; it might be
    b-1's payment that settles o-1's chase (a sibling order). Its buyer, read leniently by
    the connector, ties it to b-1's evidence: o-1's CS101 is undecidable, not a violation."""
    store = ObservationStore(engine)
    await store.save_orders(
        "s", [new_order(order_id="o-1", buyer_id="b-1", at=at("2026-11-02 09:00"))], NOW
    )
    await store.save_rejected(
        "s", Stream.ORDERS, [("o-2", "displayFinancialStatus")], NOW, {"o-2": "b-1"}
    )
    metrics = await evaluated(engine, tmp_path, database_url)
    assert await Ledger(engine).find() == []
    async with engine.connect() as conn:
        rows = (await conn.execute(select(undecidable_subjects))).all()
    assert [(r.rule, r.subject_id, r.reason) for r in rows] == [("CS101", "o-1", "record_rejected")]
    labels = {"shop": "s", "rule": "CS101", "reason": "record_rejected"}
    assert sample(metrics, "shopwatch_undecidable_total", **labels) == 1


async def test_a_record_whose_id_does_not_read_rejects_the_page_whole(
    engine: AsyncEngine, clock: FakeClock, tmp_path: Path
) -> None:
    """Nothing would tie it to a buyer's evidence: the page waits, like any bad page."""
    t = clock.now() - timedelta(hours=1)
    nameless = Rejected(field="orders[0].id", error="missing", reason="id", key=None)
    good = new_order(order_id="o-1", buyer_id="b-1", at=t)
    source = ScriptedSource([Page(items=(good,), next_page_token=None, rejected=(nameless,))])
    h = Harness(engine, clock, tmp_path, Stream.ORDERS, source)
    assert await h.poller.poll() is False
    assert h.poller.state is not None
    assert h.poller.state.watermark == clock.now() - timedelta(hours=24), "the watermark stays"
    assert sample(h.metrics, "shopwatch_pages_rejected_total", shop="s", stream="orders") == 1


async def test_refused_records_before_the_horizon_are_forgotten(engine: AsyncEngine) -> None:
    store = ObservationStore(engine)
    await store.save_rejected("s", Stream.ORDERS, [("o-old", "status")], NOW - timedelta(days=9))
    await store.save_rejected("s", Stream.ORDERS, [("o-new", "status")], NOW)
    await store.save_rejected("t", Stream.ORDERS, [("o-other", "status")], NOW - timedelta(days=9))
    assert await store.forget_rejected("s", NOW - timedelta(days=3)) == 1
    everything = NOW - timedelta(days=30)
    assert (await store.rejected_keys("s", everything)).orders == {"o-new"}
    assert (await store.rejected_keys("t", everything)).orders == {"o-other"}  # another shop's


async def test_migration_0012_both_ways(engine: AsyncEngine) -> None:
    """Down to 0011 the refused records stay, keyed by their ids; back up, they have no
    buyer and still spare by their key."""
    store = ObservationStore(engine)
    await store.save_rejected("s", Stream.ORDERS, [("o-2", "status")], NOW, {"o-2": "b-1"})
    assert (await store.rejected_keys("s", NOW)).buyers == {"b-1"}
    async with engine.begin() as conn:
        await conn.run_sync(move_schema, "0011", True)
    async with engine.begin() as conn:
        await conn.run_sync(move_schema, "head", False)
    kept = await store.rejected_keys("s", NOW)
    assert (kept.orders, kept.buyers) == ({"o-2"}, set())


async def test_blunt_wording_rests_on_its_message_alone_and_is_still_recorded(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    """A refused order of b-1 changes nothing about what an agent wrote to b-1: the blunt
    reply is still recorded for review (CS106), while the chase is spared (CS101)."""
    store = ObservationStore(engine)
    await store.save_orders(
        "s", [new_order(order_id="o-1", buyer_id="b-1", at=at("2026-11-02 09:00"))], NOW
    )
    blunt = new_message(
        message_id="m-9",
        buyer_id="b-1",
        at=at("2026-11-02 10:00"),
        direction=Direction.AGENT,
        agent_id="a1",
        text="爱买不买",
    )
    await store.save_messages("s", [blunt], NOW)
    await store.save_rejected("s", Stream.ORDERS, [("o-2", "status")], NOW, {"o-2": "b-1"})
    await evaluated(engine, tmp_path, database_url)
    found = {(v["rule"], v["subject"]["id"]) for v in await Ledger(engine).find()}
    assert ("CS106", "m-9") in found
    assert not any(rule == "CS101" for rule, _ in found)
