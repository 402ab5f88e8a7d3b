"""Smoke test of the benchmark's agency phase: a few shops served by the shop process, read
by a real ``shopwatch run --listen`` process, measured and written to the results."""

from __future__ import annotations

import json
from pathlib import Path

from bench import cli


def test_a_micro_agency_run_measures_one_process_with_many_shops(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    argv = ["--quick", "--phases=agency", "--agency-shops=3", "--agency-stories=10"]
    assert cli.main([*argv, "--agency-poll=2", f"--json={out}"]) == 0
    (size,) = json.loads(out.read_text())["phases"]["agency"]["sizes"]
    assert size["shops"] == 3 and size["streams"] == 6
    assert size["world"]["orders"] > 0
    assert size["scrape"]["series"] > 0 and size["scrape"]["bytes"] > 0
    assert size["steady"]["cpu_share"] >= 0 and size["memory"]["vm_hwm_mib"] > 0
    assert size["steady"]["window_s"] >= 8  # four poll intervals
