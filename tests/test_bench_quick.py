"""Smoke test of the benchmark (``python -m bench``): the generator, and a micro run of the
backfill, raw-bound and growth phases through the real simulator, daemon and store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bench import cli, gen
from bench.config import DOUBLE_11
from connectors.model import OrderStatus


def test_the_generator_makes_exactly_the_history_asked_for() -> None:
    history = gen.history(orders=300, messages=1500, now=DOUBLE_11)
    assert len(history.orders) == 300
    assert len(history.messages) == 1500
    start = DOUBLE_11 - timedelta(hours=24)
    assert all(start <= m.sent_at <= DOUBLE_11 for m in history.messages)
    assert all(start <= o.created_at <= o.updated_at <= DOUBLE_11 for o in history.orders)
    statuses = {o.status for o in history.orders}
    assert {OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID} <= statuses
    assert any(o.buyer_message and not o.seller_memo for o in history.orders)  # CS103 material
    assert any(m.is_auto for m in history.messages)
    assert any(not gen.covered(m.sent_at.timestamp()) for m in history.messages)  # nights
    assert len({m.id for m in history.messages}) == 1500


def test_a_micro_run_measures_every_phase_it_was_asked_for(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = cli.main(
        [
            "--quick",
            "--orders=200",
            "--messages=1000",
            "--phases=raw,backfill,growth",
            "--growth-sizes=200,400",
            f"--json={out}",
        ]
    )
    assert code == 0
    results = json.loads(out.read_text())
    phases = results["phases"]
    assert phases["raw"]["stored"] == {"orders": 200, "messages": 1000}
    backfill = phases["backfill"]
    assert backfill["stored"]["order_versions"] == 200
    assert backfill["stored"]["messages"] == 1000
    assert backfill["ticks"][-1]["buyers"] == 0  # settled
    assert backfill["scrape"]["median_ms"] > 0
    assert backfill["memory"]["peak_rss_mib"] > 0
    assert [s["buyers_per_tick"] for s in phases["growth"]["stores"]] == [100, 100]
    assert phases["growth"]["ratio"] > 0
    assert results["machine"]["sqlite"]
    assert set(results["met"]) == {"backfill", "scrape", "growth", "rss"}
