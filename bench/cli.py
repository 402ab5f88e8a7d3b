"""``python -m bench``: a Double-11 hour on two cores, measured against the raw limit.

Phases (each daemon in its own process; the simulated shop in another):

backfill   a fresh daemon reads 24 h of history through the generic connector from the
           simulator over HTTP, then ticks until no buyer is left to evaluate
raw        the same pages read and stored by plain code (json.loads + executemany)
scrape     /metrics of the settled daemon (200 agents in the roster), idle and under load
growth     one evaluation tick with the same 100 dirty buyers over a small and a large store
sustained  the highest orders/s (+5× messages/s) at which the watermark lag stays under two
           poll intervals, found by doubling and bisection, then held for the full window
agency     N simulated shops on one `shopwatch run` process (200 and 1,000; quick 20): back-fill,
           then steady CPU, RSS, /metrics time and size, and whether any poll starved
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import agency, child, config, phases, profiling, server
from bench.config import DOUBLE_11
from connectors.wire import rfc3339

HERE = Path(__file__).resolve().parent

TARGETS = {
    "backfill_vs_raw": 0.5,
    "sustained_orders_per_s": 2000,
    "sustained_messages_per_s": 10000,
    "growth_ratio": 1.5,
    "scrape_ms": 50.0,
    "rss_mib": 500.0,
    "agency_shops": 1000,
    "agency_cpu_share": 0.5,
    "agency_rss_mib": 1024.0,
    "agency_scrape_ms": 250.0,
    "agency_scrape_mb": 3.0,
}

PHASES = ("raw", "backfill", "growth", "sustained", "agency")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short windows (~1 min)")
    parser.add_argument(
        "--orders", type=int, help="orders in the 24 h history (200000; quick 5000)"
    )
    parser.add_argument(
        "--messages", type=int, help="messages in the history (1000000; quick 25000)"
    )
    parser.add_argument("--json", type=Path, help="where to write the results (bench/results.json)")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}"
    )
    parser.add_argument(
        "--growth-sizes", help="stored orders, small,large (10000,1000000; quick 1000,20000)"
    )
    parser.add_argument(
        "--sustained-seconds", type=float, help="confirmation window (60; quick 10)"
    )
    parser.add_argument("--eval-interval", default="5s", help="evaluation interval while sustained")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile the backfill and a growth tick with pyinstrument (timings inflated); "
        "writes bench/profiles/",
    )
    parser.add_argument(
        "--sqlite-pragma",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="experiment: an extra PRAGMA on the backfill daemon's SQLite connections",
    )
    parser.add_argument(
        "--read-ahead",
        action="store_true",
        help="experiment: the backfill daemon's sources fetch page N+1 while page N is stored",
    )
    parser.add_argument(
        "--agency-shops", help="agency: shop counts, comma-separated (200,1000; quick 20)"
    )
    parser.add_argument(
        "--agency-stories", type=int, help="agency: stories in each shop's history (200; quick 40)"
    )
    parser.add_argument(
        "--agency-poll", type=float, help="agency: poll interval in seconds (30; quick 5)"
    )
    parser.add_argument(
        "--agency-rate", type=float, default=60.0, help="agency: live stories per shop and hour"
    )
    parser.add_argument("--agency-agents", type=int, default=3, help="agency: agents (the demo's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    quick = args.quick
    args.orders = args.orders if args.orders is not None else (5_000 if quick else 200_000)
    args.messages = args.messages if args.messages is not None else (25_000 if quick else 1_000_000)
    if args.growth_sizes:
        small, large = (int(x) for x in args.growth_sizes.split(","))
    else:
        small, large = (1_000, 20_000) if quick else (10_000, 1_000_000)
    args.growth = (small, large)
    args.confirm_seconds = args.sustained_seconds or (10.0 if quick else 60.0)
    args.search_seconds = 4.0 if quick else 15.0
    args.max_steps = 4 if quick else 7
    args.bisect_steps = 1 if quick else 2
    args.scrapes = 20 if quick else 50
    args.growth_rounds = 5 if quick else 7
    args.agency_sizes = [
        int(n) for n in (args.agency_shops or ("20" if quick else "200,1000")).split(",")
    ]
    args.agency_stories = args.agency_stories or (40 if quick else 200)
    args.agency_poll = args.agency_poll or (5.0 if quick else 30.0)
    if args.profile:
        args.phases = [p for p in args.phases if p in ("backfill", "growth")]
    return args


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- /metrics ----


def scrape(port: int, timeout: float = 30.0) -> tuple[float, int]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/metrics: HTTP {response.status}")
    finally:
        conn.close()
    return time.perf_counter() - started, len(body)


class Scraper(threading.Thread):
    """Scrapes every ``every`` seconds while the daemon works, as Prometheus would."""

    def __init__(self, port: int, every: float) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.every = every
        self.times: list[float] = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every):
            try:
                self.times.append(scrape(self.port)[0])
            except Exception:
                self.errors += 1

    def stop(self) -> dict[str, Any]:
        self.halt.set()
        self.join(60)
        t = sorted(self.times)
        return {
            "count": len(t),
            "errors": self.errors,
            "median_ms": round(statistics.median(t) * 1000, 1) if t else None,
            "max_ms": round(t[-1] * 1000, 1) if t else None,
        }


# ---- phases ----


def run_raw(args: argparse.Namespace, work: Path, shop: server.ShopControl) -> dict[str, Any]:
    say("raw bound: the same pages through json.loads + executemany …")
    result: dict[str, Any] = child.run(
        phases.raw_bound,
        base_url=shop.base_url,
        since=rfc3339(DOUBLE_11 - timedelta(hours=24)),
        database=str(work / "raw.db"),
        observed=DOUBLE_11.strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
    return result


def run_backfill(
    args: argparse.Namespace, work: Path, shop: server.ShopControl, profile: Path | None
) -> dict[str, Any]:
    say(f"backfill: a fresh daemon reads {args.orders:,} orders + {args.messages:,} messages …")
    proc = child.Child(
        phases.backfill,
        workdir=str(work / "backfill"),
        base_url=shop.base_url,
        now=DOUBLE_11.isoformat(),
        profile=str(profile) if profile else None,
        pragmas=args.sqlite_pragma,
        read_ahead=args.read_ahead,
    )
    try:
        _, port = proc.recv(timeout=300)
        scraper = Scraper(port, every=1.0 if args.quick else 5.0)
        scraper.start()
        proc.recv()  # settled
        under_load = scraper.stop()
        idle = [scrape(port) for _ in range(args.scrapes)]
        proc.send("stop")
        result: dict[str, Any] = proc.result(timeout=120)
    finally:
        proc.kill()
    times = sorted(t for t, _ in idle)
    result["scrape"] = {
        "requests": len(times),
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 2),
        "bytes": idle[-1][1],
        "during_backfill": under_load,
    }
    return result


def run_growth(
    args: argparse.Namespace, work: Path, shop: server.ShopControl, profile: Path | None
) -> dict[str, Any]:
    stores = [
        {"label": label, "database": str(work / f"growth-{label}.db"), "orders": n, "messages": n}
        for label, n in zip(("small", "large"), args.growth, strict=True)
    ]
    say(
        "growth: writing stores of "
        + " and ".join(f"{s['orders']:,} orders + {s['messages']:,} messages" for s in stores)
        + " …"
    )
    stores = child.run(phases.build_growth_dbs, stores=stores, now=DOUBLE_11.isoformat())
    say("growth: ticks with 100 dirty buyers over each store …")
    result: dict[str, Any] = child.run(
        phases.growth,
        workdir=str(work / "growth"),
        control_port=shop.port,
        now=DOUBLE_11.isoformat(),
        stores=stores,
        dirty=100,
        rounds=args.growth_rounds,
        profile=str(profile) if profile else None,
    )
    small, large = result["stores"]
    result["ratio"] = large["tick_median_s"] / small["tick_median_s"]
    result["build"] = [{k: v for k, v in s.items() if k != "database"} for s in stores]
    return result


def run_agency(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sizes = []
    for shops in args.agency_sizes:
        say(
            f"agency: {shops:,} shops on one process, {args.agency_stories} stories of history "
            f"each, polls every {args.agency_poll:g} s …"
        )
        result = agency.run_size(
            work=work / f"agency-{shops}",
            shops=shops,
            stories=args.agency_stories,
            stories_per_hour=args.agency_rate,
            poll_interval=args.agency_poll,
            scrape_every=min(15.0, args.agency_poll),
            agents=args.agency_agents,
            say=say,
        )
        say("  " + agency.summary_line(result))
        sizes.append(result)
    return {"sizes": sizes}


def run_sustained(
    args: argparse.Namespace, work: Path, shop: server.ShopControl, start_rate: float
) -> dict[str, Any]:
    say(f"sustained: searching from {start_rate:.0f} orders/s (+5× messages/s) …")
    proc = child.Child(
        phases.sustained,
        workdir=str(work / "sustained"),
        control_port=shop.port,
        start_rate=start_rate,
        search_seconds=args.search_seconds,
        confirm_seconds=args.confirm_seconds,
        poll_interval=1.0,
        settle="100ms",
        evaluation_interval=args.eval_interval,
        max_steps=args.max_steps,
        bisect_steps=args.bisect_steps,
        cap=2 * TARGETS["sustained_orders_per_s"],
    )
    try:
        while True:
            kind, payload = proc.recv()
            if kind == "step":
                say(_step_line(payload))
            elif kind == "result":
                proc.process.join(30)
                return dict(payload)
    finally:
        proc.kill()


# ---- report ----


def _step_line(step: dict[str, Any]) -> str:
    polls = step["polls"]
    return (
        f"  {step['rate_orders_per_s']:>6.0f} orders/s for {step['seconds']:>5.1f} s: "
        f"{'held' if step['passed'] else 'lost'} (max lag {step['max_lag_s']:.2f} s, "
        f"daemon cpu {step['daemon_cpu_share']:.0%}, longest eval {step['tick_max_s']:.2f} s, "
        f"poll median/max: orders {polls['orders']['median_s']}/{polls['orders']['max_s']} s, "
        f"chat {polls['chat']['median_s']}/{polls['chat']['max_s']} s)"
    )


def _fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def build_table(results: dict[str, Any]) -> tuple[list[list[str]], dict[str, bool | None]]:
    ph = results["phases"]
    rows: list[list[str]] = []
    met: dict[str, bool | None] = {}
    raw = ph.get("raw")
    backfill = ph.get("backfill")
    if raw:
        b = raw["breakdown_seconds"]
        rows.append(
            [
                "raw bound (json.loads + executemany)",
                f"{_fmt_rate(raw['items_per_s'])} items/s ({raw['items']:,} in "
                f"{raw['seconds']:.1f} s: http {b['fetch']:.1f} parse {b['parse']:.1f} "
                f"rows {b['convert']:.1f} sqlite {b['insert']:.1f}; "
                f"w/o http {_fmt_rate(raw['parse_insert_items_per_s'])}/s)",
                "reference",
                "",
            ]
        )
    if backfill:
        items = backfill["stored"]["order_versions"] + backfill["stored"]["messages"]
        rate = items / backfill["seconds"]
        ingest = items / backfill["ingest_seconds"]
        ratio = rate / raw["items_per_s"] if raw else None
        met["backfill"] = None if ratio is None else ratio >= TARGETS["backfill_vs_raw"]
        rows.append(
            [
                "backfill 24 h (ingest + settle)",
                f"{rate:,.0f} items/s ({items:,} in {backfill['seconds']:.1f} s: ingest "
                f"{backfill['ingest_seconds']:.1f} s = {ingest:,.0f}/s, evaluate "
                f"{backfill['evaluate_seconds']:.1f} s)"
                + (f" = {ratio:.3f} x raw" if ratio is not None else ""),
                f">= {TARGETS['backfill_vs_raw']} x raw",
                _status(met["backfill"]),
            ]
        )
        sc = backfill["scrape"]
        met["scrape"] = sc["median_ms"] < TARGETS["scrape_ms"]
        load = sc["during_backfill"]
        rows.append(
            [
                "/metrics, 200 agents (idle)",
                f"median {sc['median_ms']:.1f} ms, p95 {sc['p95_ms']:.1f} ms "
                f"({sc['bytes'] / 1024:.0f} KiB)"
                + (
                    f"; during backfill median {load['median_ms']} ms, max {load['max_ms']} ms"
                    if load["count"]
                    else ""
                ),
                f"< {TARGETS['scrape_ms']:.0f} ms",
                _status(met["scrape"]),
            ]
        )
    growth = ph.get("growth")
    if growth:
        small, large = growth["stores"]
        met["growth"] = growth["ratio"] <= TARGETS["growth_ratio"]
        rows.append(
            [
                "growth: tick, 100 dirty buyers",
                f"{growth['ratio']:.2f}x ({small['tick_median_s'] * 1000:.0f} ms @ "
                f"{small['orders']:,} orders vs {large['tick_median_s'] * 1000:.0f} ms @ "
                f"{large['orders']:,})",
                f"<= {TARGETS['growth_ratio']}",
                _status(met["growth"]),
            ]
        )
    sustained = ph.get("sustained")
    if sustained:
        o = sustained["confirmed_orders_per_s"]
        met["sustained"] = (
            o >= TARGETS["sustained_orders_per_s"] and o * 5 >= TARGETS["sustained_messages_per_s"]
        )
        last = next((s for s in reversed(sustained["steps"]) if s["passed"]), None)
        upper = sustained["upper_failed_orders_per_s"]
        rows.append(
            [
                "sustained, lag < 2 poll intervals",
                f"{o:,} orders/s + {o * 5:,} msg/s held {sustained['confirm_seconds']:.0f} s"
                + (f" (max lag {last['max_lag_s']:.2f} s)" if last else "")
                + (f"; lost at {upper:,}/s" if upper else ""),
                ">= 2,000 + 10,000/s",
                _status(met["sustained"]),
            ]
        )
    if ph.get("agency"):
        for size in ph["agency"]["sizes"]:
            rows.append(_agency_row(size))
        largest = max(ph["agency"]["sizes"], key=lambda s: s["shops"])
        met["agency"] = (
            _agency_met(largest) if largest["shops"] >= TARGETS["agency_shops"] else None
        )
    rss = [
        (name, ph[name]["memory"])
        for name in ("backfill", "growth", "sustained")
        if ph.get(name) and ph[name].get("memory")
    ]
    if rss:
        peak_name, peak = max(rss, key=lambda r: r[1]["peak_rss_mib"])
        met["rss"] = peak["peak_rss_mib"] < TARGETS["rss_mib"]
        rows.append(
            [
                "daemon peak RSS",
                f"{peak['peak_rss_mib']:.0f} MiB (in {peak_name}; "
                + ", ".join(f"{n} {m['peak_rss_mib']:.0f}" for n, m in rss)
                + ")",
                f"< {TARGETS['rss_mib']:.0f} MB",
                _status(met["rss"]),
            ]
        )
    return rows, met


def _agency_met(size: dict[str, Any]) -> bool:
    return bool(
        size["steady"]["cpu_share"] < TARGETS["agency_cpu_share"]
        and size["memory"]["vm_hwm_mib"] < TARGETS["agency_rss_mib"]
        and size["scrape"]["median_ms"] < TARGETS["agency_scrape_ms"]
        and size["scrape"]["bytes"] < TARGETS["agency_scrape_mb"] * 1e6
        and not size["steady"]["starved"]
    )


def _agency_row(size: dict[str, Any]) -> list[str]:
    steady, scrape = size["steady"], size["scrape"]
    result = (
        f"back-fill {size['backfill_s']:.0f} s; CPU {steady['cpu_share']:.0%}; RSS "
        f"{size['memory']['vm_hwm_mib']:.0f} MiB; /metrics {scrape['median_ms']:.0f} ms "
        f"{scrape['bytes'] / 1e6:.2f} MB ({scrape.get('wire_bytes', 0) / 1e6:.2f} gzip); "
        f"lag {steady['max_lag_beyond_settle_s']:.0f} s "
        f"(+{size['settle_s']} s settle)"
    )
    at_target = size["shops"] >= TARGETS["agency_shops"]
    return [
        f"agency: {size['shops']:,} shops, polls {size['poll_interval_s']:g} s",
        result,
        "CPU < 50 %, RSS < 1 GiB, /metrics < 250 ms + 3 MB, lag < 2 polls"
        if at_target
        else "(targets at 1,000 shops)",
        _status(_agency_met(size)) if at_target else "n/a",
    ]


def _status(value: bool | None) -> str:
    return "n/a" if value is None else ("met" if value else "NOT met")


def render(rows: list[list[str]], title: str) -> str:
    header = ["measure", "result", "target", "status"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"

    def fmt(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    return "\n".join([title, line, fmt(header), line, *(fmt(r) for r in rows), line])


def print_hotspots(name: str, summary: dict[str, Any] | None, top: int = 15) -> None:
    if not summary:
        return
    print(f"\n{name}: {summary['seconds']:.1f} s profiled ({summary['report']})")
    print("  inclusive, project code:")
    for row in summary["inclusive_project"][:top]:
        print(f"    {row['share']:6.1%}  {row['seconds']:8.2f} s  {row['where']}")
    print("  self time (event-loop thread; [await] = waiting on I/O or the SQLite thread):")
    for row in summary["self"][:top]:
        print(f"    {row['share']:6.1%}  {row['seconds']:8.2f} s  {row['where']}")


def print_sql(sql: list[dict[str, Any]] | None) -> None:
    if sql:
        print("  SQL by statement (SQLAlchemy = total - cursor; not cached = compiled afresh):")
        head = ("statement", "runs", "rows", "total s", "cursor s", "SQLA s", "not cached")
        print("    {:<28} {:>7} {:>9} {:>8} {:>8} {:>7} {:>10}".format(*head))
        for row in sql[:12]:
            print(
                "    {:<28} {:>7} {:>9} {:>8.3f} {:>8.3f} {:>7.3f} {:>10}".format(
                    row["statement"],
                    row["executions"],
                    row["rows"],
                    row["seconds"],
                    row["cursor_seconds"],
                    row["sqlalchemy_seconds"],
                    row["not_cached"],
                )
            )


# ---- how much else ran on the machine meanwhile ----


def _machine_busy_seconds() -> float | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _contention(
    started: float, busy_before: float | None, load_before: tuple[float, ...]
) -> dict[str, Any]:
    """CPU the machine spent outside this bench while it ran (other users' jobs make every
    number here pessimistic)."""
    wall = time.time() - started
    busy_after = _machine_busy_seconds()
    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        own += usage.ru_utime + usage.ru_stime
    cores = os.cpu_count() or 1
    foreign = (
        max(0.0, busy_after - busy_before - own)
        if busy_after is not None and busy_before is not None
        else 0.0
    )
    return {
        "bench_cpu_seconds": round(own, 1),
        "machine_busy_seconds": None
        if busy_after is None or busy_before is None
        else round(busy_after - busy_before, 1),
        "foreign_cpu_share": round(foreign / (wall * cores), 3) if wall else 0.0,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


# ---- main ----


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile and not profiling.available():
        print("--profile needs pyinstrument: pip install pyinstrument", file=sys.stderr)
        return 2
    started = time.time()
    busy_before = _machine_busy_seconds()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="shopwatch-bench-"))
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": config.machine(),
        "code": config.code_version(HERE.parent),
        "parameters": {
            "quick": args.quick,
            "orders": args.orders,
            "messages": args.messages,
            "agents_working": 50,
            "roster": 200,
            "growth_stored_orders": list(args.growth),
            "sustained_confirm_seconds": args.confirm_seconds,
            "sustained_poll_interval_s": 1.0,
            "sustained_settle": "100ms",
            "sustained_evaluation_interval": args.eval_interval,
            "profiled": args.profile,
            "backfill_extra_sqlite_pragmas": args.sqlite_pragma,
            "backfill_read_ahead": args.read_ahead,
            "agency_shops": args.agency_sizes,
            "agency_stories_per_shop": args.agency_stories,
            "agency_poll_interval_s": args.agency_poll,
            "agency_live_stories_per_shop_per_hour": args.agency_rate,
            "agency_agents": args.agency_agents,
        },
        "targets": TARGETS,
        "phases": {},
    }
    profiles = HERE / "profiles"
    shop_proc = child.Child(server.serve)
    try:
        _, port = shop_proc.recv(timeout=60)
        shop = server.ShopControl(port)
        if {"raw", "backfill"} & set(args.phases):
            say(
                f"simulator: generating 24 h, {args.orders:,} orders + {args.messages:,} messages …"
            )
            loaded = shop.call(
                "load",
                {"orders": args.orders, "messages": args.messages, "now": DOUBLE_11.isoformat()},
            )
            results["world"] = loaded
            say(
                f"simulator: {loaded['orders']:,} orders, {loaded['messages']:,} messages, "
                f"{loaded['buyers']:,} buyers (generated in {loaded['generate_seconds']:.1f} s)"
            )
        ph = results["phases"]
        if "raw" in args.phases:
            ph["raw"] = run_raw(args, work, shop)
        if "backfill" in args.phases:
            ph["backfill"] = run_backfill(
                args, work, shop, profiles / "backfill.txt" if args.profile else None
            )
        if {"raw", "backfill"} & set(args.phases):
            ph["simulator_memory"] = child.proc_status(shop_proc.pid or 0)
        if "growth" in args.phases:
            ph["growth"] = run_growth(
                args, work, shop, profiles / "growth_tick.txt" if args.profile else None
            )
        if "sustained" in args.phases:
            start_rate = 50.0
            if ph.get("backfill"):
                b = ph["backfill"]
                items = b["stored"]["order_versions"] + b["stored"]["messages"]
                start_rate = max(10.0, min(1000.0, items / b["ingest_seconds"] / 6 / 4))
            ph["sustained"] = run_sustained(args, work, shop, start_rate)
        if "agency" in args.phases:
            ph["agency"] = run_agency(args, work)
    finally:
        shop_proc.kill()
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = round(time.time() - started, 1)
    results["machine"]["load"] = _contention(started, busy_before, load_before)
    if results["machine"]["load"]["foreign_cpu_share"] > 0.1:
        say(
            "warning: other processes used "
            f"{results['machine']['load']['foreign_cpu_share']:.0%} of the machine during the run; "
            "the numbers are pessimistic"
        )
    rows, met = build_table(results)
    results["met"] = met
    size = "quick" if args.quick else "full"
    title = (
        f"shopwatch bench ({size}: {args.orders:,} orders + {args.messages:,} messages; "
        f"{results['machine']['nproc']} cores, {results['machine']['cpu_model']}, Python "
        f"{results['machine']['python']}, SQLite {results['machine']['sqlite']}; "
        f"{results['seconds']:.0f} s; code {str(results['code']['commit'])[:7]})"
        + ("  [PROFILED: timings inflated]" if args.profile else "")
    )
    print(render(rows, title))
    if args.profile:
        backfill = results["phases"].get("backfill") or {}
        print_hotspots("backfill", backfill.get("profile"))
        print_sql(backfill.get("sql"))
        growth = results["phases"].get("growth")
        if growth:
            print_hotspots("growth tick (large store)", growth["stores"][-1].get("profile"))
            for store in growth["stores"]:
                print(f"  per tick, store of {store['orders']:,} orders:")
                print_sql(store.get("sql_per_tick"))
    path = args.json or (profiles / "profile.json" if args.profile else HERE / "results.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {path}")
    return 0
