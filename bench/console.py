"""``python -m bench.console``: the console's pages over a large ledger, timed through HTTP
like a browser asks for them.

    python -m bench.console                        # 100,000 violations over 12 months
    python -m bench.console --quick                # 10,000: a smoke run while iterating
    python -m bench.console --database postgresql+asyncpg://…/EMPTY_DB
    python -m bench.console --violations N --months M --json PATH

Seeds N violations (default 100,000) spread over M months (default 12) into a fresh SQLite
file (or an empty PostgreSQL database: ``--database``, which must hold no tables) with plain
SQL, each with about 1 KB of evidence as the rules store it (a page reads the rows it shows
from the table, so their width counts), signs a supervisor in, and times every page a
supervisor opens: the ledger (default, each filter, each sort, ten pages forward and back),
a violation with its timeline, the month (scorecard over the month's share of the ledger),
an agent's page, the CSV export, the handover book; then waives one of the month's
violations through the console and times the month page again, since a decision changes
what its scorecard reads.

Prints one line per page (median and worst of five, and the first view where it was over
the target) and exits 1 if any page's median or first view is over the target (200 ms).
Writes the figures to ``phases.console`` (``console_postgresql``) of ``bench/results.json``
(``--json``), keeping the run before it there as ``previous``: the rest of that file
(``python -m bench``'s phases) is left as it is. Loopback only, a temporary directory
(removed at the end), stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from argon2 import PasswordHasher
from sqlalchemy import insert, inspect, select, text

from bench.cli import _contention, _machine_busy_seconds
from bench.config import code_version, machine
from daemon.app import Daemon
from daemon.config.settings import parse
from daemon.store import migrate
from daemon.store.engine import create_engine
from daemon.store.tables import violations
from daemon.store.users import UserBook

HERE = Path(__file__).resolve().parent
TARGET_MS = 200.0
RUNS = 5
AGENTS = [f"a{i}" for i in range(1, 51)]
RULES = ["CS101", "CS102", "CS103", "CS104", "M204"]
STATUSES = ["open"] * 6 + ["confirmed", "waived", "appealed", "review"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
EVIDENCE_MESSAGES = 8
"""Messages in each seeded violation's evidence: about 1 KB of JSON, as a CS104 episode."""


def settings_for(work: Path, url: str) -> object:
    agents = "".join(f'[[agents]]\nid = "{a}"\n' for a in AGENTS)
    text = f"""
timezone = "Asia/Shanghai"
[database]
url = "{url}"
[http]
listen = "127.0.0.1:0"
[[shops]]
id = "s"
[shops.orders]
kind = "generic"
base_url = "http://127.0.0.1:1"
token_file = "token"
[shops.chat]
kind = "generic"
base_url = "http://127.0.0.1:1"
token_file = "token"
{agents}
[[shifts]]
name = "day"
start = "08:30"
end = "17:30"
agents = {AGENTS!r}
"""
    import tomllib

    (work / "token").write_text("t")
    return parse(tomllib.loads(text), "bench", work)


def evidence(i: int, deadline: datetime) -> dict[str, Any]:
    """Evidence as wide as a rule's: the buyer's messages of an episode (under a key no
    rule reads, so every rule's page still shows its own, empty, facts)."""
    return {
        "bench_episode": [
            {
                "id": f"m-{i}-{k}",
                "buyer_id": f"b-{i % 5000}",
                "sent_at": (deadline - timedelta(minutes=10 - k)).isoformat(),
                "text": "请问这个什么时候发货？还有优惠吗 can you ship today?",
            }
            for k in range(EVIDENCE_MESSAGES)
        ]
    }


async def seed(engine: Any, count: int, months: int, end: datetime) -> None:
    start = end - timedelta(days=30 * months)
    step = (end - start) / count
    async with engine.begin() as conn:
        for at in range(0, count, 10_000):
            rows = []
            for i in range(at, min(count, at + 10_000)):
                deadline = start + step * i
                rows.append(
                    {
                        "shop": "s",
                        "rule": RULES[i % len(RULES)],
                        "subject_type": "order",
                        "subject_id": f"o-{i}",
                        "buyer_id": f"b-{i % 5000}",
                        "agent": None if i % 11 == 0 else AGENTS[i % len(AGENTS)],
                        "shift": "day",
                        "deadline": deadline,
                        "detected_at": deadline + timedelta(minutes=1),
                        "updated_at": deadline + timedelta(minutes=1),
                        "tier": None,
                        "points": 1 + i % 5,
                        "fine": "0",
                        "status": STATUSES[i % len(STATUSES)],
                        "final": True,
                        "source": "rule",
                        "evidence": evidence(i, deadline),
                    }
                )
            await conn.execute(insert(violations), rows)
    if engine.dialect.name == "postgresql":
        # What autovacuum does after this many inserts: statistics for the planner, and
        # the visibility map, without which no index-only scan skips the table.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE violations"))


async def empty(engine: Any) -> bool:
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return not names


class Timings:
    """Each page's times: the first view (the month's pages read the scorecard then) and
    the median and worst of :data:`RUNS`."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.pages: dict[str, dict[str, float]] = {}

    async def time(self, label: str, url: str) -> str:
        times: list[float] = []
        body = ""
        for _ in range(RUNS):
            started = time.perf_counter()
            async with self.http.get(self.base + url) as response:
                body = await response.text(errors="replace")
                assert response.status == 200, (url, response.status, body[:300])
            times.append((time.perf_counter() - started) * 1000)
        seen = self.pages.get(label)
        first = seen["first_ms"] if seen else times[0]
        worst = max(statistics.median(times), seen["median_ms"] if seen else 0.0)
        self.pages[label] = {
            "first_ms": round(first, 1),
            "median_ms": round(worst, 1),
            "worst_ms": round(max(max(times), seen["worst_ms"] if seen else 0.0), 1),
        }
        return body


async def time_ledger(timings: Timings, page: str) -> None:
    body = await timings.time(page, page)
    for _ in range(10):
        match = re.search(r'href="(/ledger\?[^"]*after=[^"]+)" rel="next"', body)
        if match is None:
            break
        body = await timings.time(f"{page} → next", match.group(1).replace("&amp;", "&"))
    match = re.search(r'href="(/ledger\?[^"]*before=[^"]+)" rel="prev"', body)
    if match:
        await timings.time(f"{page} ← previous", match.group(1).replace("&amp;", "&"))


async def waive_one(http: aiohttp.ClientSession, base: str, engine: Any, since: datetime) -> int:
    """Waive the month's newest open violation through its page, as a supervisor does."""
    query = (
        select(violations.c.id)
        .where(violations.c.status == "open", violations.c.deadline >= since)
        .order_by(violations.c.deadline.desc())
        .limit(1)
    )
    async with engine.connect() as conn:
        chosen = int((await conn.execute(query)).scalar_one())
    async with http.get(f"{base}/violations/{chosen}") as r:
        token = CSRF.search(await r.text()).group(1)  # type: ignore[union-attr]
    async with http.post(
        f"{base}/violations/{chosen}/waive",
        data={"reason": "bench: a decision", "csrf": token},
        allow_redirects=False,
    ) as r:
        assert r.status == 303, (r.status, (await r.text())[:300])
    return chosen


async def run(count: int, months: int, database: str | None) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="shopwatch-bench-console-"))
    url = database or f"sqlite+aiosqlite:///{work / 'bench.db'}"
    engine = create_engine(url)
    if not await empty(engine):
        await engine.dispose()
        raise SystemExit("--database must name an empty database: this one has tables")
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    print(f"seeding {count:,} violations over {months} months …", file=sys.stderr)
    started = time.perf_counter()
    await seed(engine, count, months, now)
    print(f"seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    settings = settings_for(work, url)
    await UserBook(engine, cheap).add(
        name="boss", role="supervisor", password="bench password", by="bench", now=now, roster=()
    )
    daemon = Daemon(settings, engine=engine)  # type: ignore[arg-type]
    host, port = await daemon.serve_http()
    assert daemon.console is not None
    daemon.console.users.hasher = cheap
    base = f"http://{host}:{port}"
    tz = settings.timezone  # type: ignore[attr-defined]
    month = now.astimezone(tz).strftime("%Y-%m")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{base}/login") as r:
            token = CSRF.search(await r.text()).group(1)  # type: ignore[union-attr]
        await http.post(
            f"{base}/login", data={"name": "boss", "password": "bench password", "csrf": token}
        )
        timings = Timings(http, base)
        for page in (
            "/ledger",
            "/ledger?status=appealed",
            "/ledger?agent=a7",
            "/ledger?agent=-",
            "/ledger?shop=s",
            "/ledger?rule=CS103",
            f"/ledger?month={month}",
            "/ledger?sort=deadline_asc",
            "/ledger?sort=points_desc",
            "/ledger?shop=s&rule=CS101&agent=a1&status=open&sort=points_desc",
        ):
            await time_ledger(timings, page)
        for page in (
            f"/violations/{count // 2}",
            f"/month?month={month}",
            f"/agents/a7?month={month}",
            f"/month/{month}/scorecard.csv",
            "/handovers",
        ):
            await timings.time(page, page)
        start_of_month = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=tz)
        waived = await waive_one(http, base, engine, start_of_month.astimezone(UTC))
        await timings.time(f"/month?month={month} after a waive", f"/month?month={month}")
        await timings.time(f"/violations/{waived} after a waive", f"/violations/{waived}")
    await daemon.stop()
    await engine.dispose()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "database": "postgresql" if database else "sqlite",
        "violations": count,
        "months": months,
        "pages": timings.pages,
    }


def report(result: dict[str, Any]) -> list[str]:
    slow = []
    for page, t in result["pages"].items():
        if t["first_ms"] > TARGET_MS and t["first_ms"] > t["median_ms"]:
            print(f"{t['first_ms']:8.1f} ms  {page}  (its first view)")
        over = max(t["median_ms"], t["first_ms"]) > TARGET_MS
        mark = "  SLOWER THAN TARGET" if over else ""
        if over:
            slow.append(page)
        print(f"{t['median_ms']:8.1f} ms  {page}  (worst {t['worst_ms']:.1f}){mark}")
    print(
        f"{len(result['pages'])} pages on {result['database']}, {result['violations']:,} "
        f"violations, target {TARGET_MS:.0f} ms (median of {RUNS}, and the first view): "
        f"{'met' if not slow else 'missed by ' + str(len(slow))}"
    )
    return slow


def record(path: Path, phase: dict[str, Any]) -> None:
    """Put this run into ``phases.console`` (``phases.console_postgresql``) of the results
    file, the run before it as its ``previous``, and leave the file's other phases alone."""
    try:
        results = json.loads(path.read_text())
        if not isinstance(results, dict):
            results = {}
    except (OSError, ValueError):
        results = {}
    phases = results.setdefault("phases", {})
    name = "console" if phase["database"] == "sqlite" else f"console_{phase['database']}"
    earlier = phases.get(name)
    if isinstance(earlier, dict):
        earlier.pop("previous", None)
        phase["previous"] = earlier
    phases[name] = phase
    results.setdefault("machine", phase["machine"])
    results.setdefault("code", phase["code"])
    results.setdefault("targets", {})["console_page_ms"] = TARGET_MS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--violations", type=int, help="violations seeded (100000; quick 10000)")
    parser.add_argument("--months", type=int, default=12, help="months they span (12)")
    parser.add_argument("--quick", action="store_true", help="10,000 violations: a smoke run")
    parser.add_argument(
        "--database", help="an empty PostgreSQL database's URL instead of a temporary SQLite"
    )
    parser.add_argument(
        "--json", type=Path, default=HERE / "results.json", help="results file (bench/)"
    )
    args = parser.parse_args(argv)
    count = args.violations or (10_000 if args.quick else 100_000)
    started = datetime.now(UTC)
    clock, busy, load = time.time(), _machine_busy_seconds(), os.getloadavg()
    result = asyncio.run(run(count, args.months, args.database))
    contention = _contention(clock, busy, load)
    slow = report(result)
    if contention["foreign_cpu_share"] > 0.1:
        print(
            f"warning: other processes used {contention['foreign_cpu_share']:.0%} of the "
            "machine during the run; the numbers are pessimistic"
        )
    phase = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {**machine(), "load": contention},
        "code": code_version(HERE.parent),
        "parameters": {"quick": args.quick, "runs_per_page": RUNS},
        "target_ms": TARGET_MS,
        **result,
        "met": not slow,
    }
    record(args.json, phase)
    print(f"results: {args.json}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
