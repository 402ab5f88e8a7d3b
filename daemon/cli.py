"""The ``shopwatch`` command (SPEC §6): run, demo, simulate, check-config, rules, db,
violations, scorecard, replay, reload, user.

Each command imports what only it needs inside its function (the service, the database
engine, the simulator, the scorecard): ``shopwatch reload`` and ``check-config`` start in
0.5 s instead of the service's 1.3 s, without the HTTP server they do not use. No
import here dodges a cycle: nothing imports the shell, and tests/test_layers.py counts these
late imports when it looks for cycles.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from checks.registry import RULES, rules_table
from daemon import logs
from daemon.config.durations import format_duration
from daemon.config.options import config_key
from daemon.config.settings import ConfigError, Settings, load, missing_secrets
from daemon.errors import BadInput, Refused
from daemon.scoring.policy_file import read_policy
from daemon.sdnotify import RELOAD_TIMEOUT_SECONDS, request_reload

DEFAULT_CONFIG = os.environ.get("SHOPWATCH_CONFIG", "/etc/shopwatch/shopwatch.toml")


def load_with_policy(path: str) -> Settings:
    """The config, and the policy catalogue it uses checked too: a broken ``policy.toml``
    is an error now, naming its key, not at the first scorecard request."""
    settings = load(path)
    read_policy(settings)
    return settings


def _settings(path: str) -> Settings:
    try:
        return load_with_policy(path)
    except ConfigError as exc:
        print(f"shopwatch: config error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        settings = load_with_policy(args.file)
    except ConfigError as exc:
        print(f"{exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    print("\n".join(config_summary(settings, shops=args.shops)))
    if args.secrets:
        problems = missing_secrets(settings)
        for problem in problems:
            print(f"secret not readable: {problem}", file=sys.stderr)
        from daemon.probe import probe

        found, ok = asyncio.run(probe(settings))
        for line in found:
            print(line, file=sys.stderr)
        print(f"live probe: {ok} stream{'s' if ok != 1 else ''} reachable, credentials accepted")
        return 1 if problems or found else 0
    return 0


def config_summary(settings: Settings, *, shops: bool = False) -> list[str]:
    """What a config holds, counted per kind (an agency's config has hundreds of shops):
    one line each for shops, hosts, people and rules; with ``shops``, a line per shop."""
    kinds: dict[str, Counter[str]] = {"orders": Counter(), "chat": Counter()}
    hosts: Counter[str] = Counter()
    for shop in settings.shops:
        for stream, counts in ((shop.orders, kinds["orders"]), (shop.chat, kinds["chat"])):
            counts[stream.kind] += 1
        shop_hosts = {urlsplit(s.base_url).netloc for s in (shop.orders, shop.chat)} - {""}
        hosts.update(shop_hosts)

    def counted(counts: Counter[str]) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items(), key=_most))

    rules = [rule.code for rule, _ in settings.enabled_rules()]
    lines = [
        f"  shops: {len(settings.shops)} (orders: {counted(kinds['orders'])}; "
        f"chat: {counted(kinds['chat'])})",
        f"  hosts: {len(hosts)}" + (f" ({_hosts(hosts)})" if hosts else ""),
        f"  agents: {len(settings.agents)}; shifts: {len(settings.shifts)}; "
        f"holidays: {len(settings.holidays)}",
        f"  rules: {len(rules)} enabled ({', '.join(rules)})",
    ]
    if shops:
        lines += [
            f"  {shop.id}  orders {shop.orders.kind} {shop.orders.base_url or '-'}  "
            f"chat {shop.chat.kind} {shop.chat.base_url or '-'}"
            for shop in settings.shops
        ]
    elif len(settings.shops) > 1:
        lines.append("  (--shops lists every shop)")
    return lines


def _most(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _hosts(hosts: Counter[str], shown: int = 5) -> str:
    """The hosts most shops read from (each host's shops share its connections)."""
    top = sorted(hosts.items(), key=_most)
    text = ", ".join(f"{host}: {n} shop{'s' if n > 1 else ''}" for host, n in top[:shown])
    return text + (f", {len(top) - shown} more" if len(top) > shown else "")


def _option_text(value: Any) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_option_text(v) for v in value) + "]"
    return str(value)


def cmd_rules(args: argparse.Namespace) -> int:
    if args.table:
        print(rules_table(), end="")
        return 0
    for rule in RULES:
        defaults = rule.options_type()
        options = ", ".join(
            f"{config_key(f)} = {_option_text(getattr(defaults, f.name))}"
            for f in dataclasses.fields(defaults)
        )
        print(f"{rule.code}  {rule.slug}  —  {rule.name_zh} {rule.name_en}")
        print(f"  options (defaults): {options}\n")
        print("\n".join(f"  {line}" if line else "" for line in rule.doc.splitlines()))
        print()
    return 0


def _run_async(coro: Awaitable[int]) -> int:
    return asyncio.run(coro)  # type: ignore[arg-type]


def cmd_run(args: argparse.Namespace) -> int:
    from daemon import service

    logs.configure(level=args.log_level)
    settings = _settings(args.config)
    problems = missing_secrets(settings)
    if problems:
        for problem in problems:
            print(f"shopwatch: secret not readable: {problem}", file=sys.stderr)
        return 1
    if args.listen is None:
        return _run_async(service.run(settings, Path(args.config)))
    # Several processes may share one config file on one machine, each on its own port;
    # a reload keeps the override (the listener is never re-bound).
    listen = _listen(args.listen)

    def load_listening(path: Path) -> Settings:
        return dataclasses.replace(service.load_checked(path), listen=listen)

    settings = dataclasses.replace(settings, listen=listen)
    return _run_async(service.run(settings, Path(args.config), load_settings=load_listening))


def cmd_reload(args: argparse.Namespace) -> int:
    if not args.runtime_directory:
        print(
            "shopwatch: reload needs --runtime-directory or $RUNTIME_DIRECTORY "
            "(systemd sets it for the unit's ExecReload=)",
            file=sys.stderr,
        )
        return 1
    outcome = request_reload(args.pid, Path(args.runtime_directory), timeout=args.timeout)
    print(f"shopwatch: {outcome.message}", file=sys.stdout if outcome.ok else sys.stderr)
    return 0 if outcome.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from daemon.demo import demo, write_demo_config

    logs.configure(level=args.log_level)
    config = Path(args.config) if args.config else write_demo_config(Path(args.state_directory))
    settings = _settings(str(config))
    return _run_async(demo(settings, config, Path(args.state_directory)))


def cmd_simulate(args: argparse.Namespace) -> int:
    from daemon.demo import simulate, write_demo_config

    logs.configure(level=args.log_level)
    config = args.config or str(write_demo_config(Path(args.state_directory)))
    settings = _settings(config)
    if args.token_file:
        token_file = Path(args.token_file)
    else:
        token_file = Path(args.state_directory) / "simulator-token"
        if not token_file.exists():
            token_file.touch(mode=0o600)
            token_file.write_text(secrets.token_urlsafe(24))
    try:
        token_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {token_file}: {exc.strerror}", field="--token-file") from None
    return _run_async(simulate(settings, _listen(args.listen), token_file))


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadInput(f"expected HOST:PORT, e.g. 127.0.0.1:9311, not {text!r}", field="--listen")
    return host.strip("[]"), int(port)


async def _with_engine(
    settings: Settings, work: Callable[[Any], Awaitable[int]], *, create: bool = False
) -> int:
    """Open (check, migrate) the database and run ``work``. Only ``db upgrade`` may
    ``create`` an empty database where the marker beside it says one existed."""
    from daemon.store.engine import create_engine
    from daemon.store.identity import open_database

    engine = create_engine(settings.database())
    try:
        await open_database(engine, shown_url=settings.database_shown(), create=create)
        return await work(engine)
    finally:
        await engine.dispose()


def cmd_db(args: argparse.Namespace) -> int:
    from daemon.store import migrate

    logs.configure(level=args.log_level)
    settings = _settings(args.config)

    async def report(engine: Any) -> int:
        print(f"database at revision {await migrate.current_revision(engine)}")
        return 0

    return _run_async(_with_engine(settings, report, create=True))


def _print_violations(rows: Sequence[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"violations": list(rows)}, ensure_ascii=False, indent=2))
        return
    print(
        f"{'id':>5}  {'rule':6} {'status':9} {'deadline':25} {'agent':10} "
        f"{'tier':>4} {'pts':>4}  subject"
    )
    for v in rows:
        print(
            f"{v['id']:>5}  {v['rule']:6} {v['status']:9} {v['deadline'][:25]:25} "
            f"{(v['agent'] or '(team)'):10} {v['tier'] or '':>4} {v['points']:>4}  "
            f"{v['subject']['type']}:{v['subject']['id']}"
        )
    print(f"{len(rows)} violation(s)")


def cmd_violations(args: argparse.Namespace) -> int:
    from daemon.store.ledger import Ledger, summarize_evidence

    settings = _settings(args.config)

    async def work(engine: Any) -> int:
        ledger = Ledger(engine)
        now = datetime.now(UTC)
        if args.action == "list":
            since = _instant(args.since, "--since") if args.since else None
            rows = await ledger.find(
                shop=args.shop, rule=args.rule, agent=args.agent, status=args.status, since=since
            )
            _print_violations(rows, args.format)
        elif args.action == "show":
            violation = await ledger.get(args.id)
            violation["summary"] = summarize_evidence(violation, settings.timezone, now)
            print(json.dumps(violation, ensure_ascii=False, indent=2))
        elif args.action == "review":
            rows = [
                row
                for status in ("review", "appealed")
                for row in await ledger.find(shop=args.shop, status=status)
            ]
            _print_violations(rows, args.format)
        elif args.action == "appeal":
            result = await ledger.appeal(
                args.id, by=args.by, reason=args.reason, now=now, window=settings.appeal_window
            )
            print(f"violation {result['id']} is now {result['status']}")
        elif args.action == "add":
            from daemon.scoring.entries import record_manual_violation

            added = await record_manual_violation(
                ledger,
                settings,
                code=args.code,
                agent=args.agent,
                at=_instant(args.at, "--at"),
                note=args.note,
                now=now,
                by=args.by,
                points=args.points,
                policy=read_policy(settings),
                fine=_number(args.fine, "--fine") if args.fine else None,
            )
            print(f"violation {added['id']} recorded: {added['rule']} {added['points']} points")
        else:
            status = "waived" if args.action == "waive" else "confirmed"
            result = await ledger.set_status(
                args.id, status, by=args.by, reason=args.reason or "", now=now
            )
            print(f"violation {result['id']} is now {result['status']}")
        return 0

    return _run_async(_with_engine(settings, work))


def _print_leaves(rows: Sequence[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"leaves": list(rows)}, ensure_ascii=False, indent=2))
        return
    print(f"{'id':>5}  {'agent':10} {'from':25} {'until':25} {'by':12} reason")
    for row in rows:
        print(
            f"{row['id']:>5}  {row['agent']:10} {row['from'][:25]:25} {row['until'][:25]:25} "
            f"{row['by']:12} {row['reason']}"
        )
    print(f"{len(rows)} leave(s)")


def cmd_leave(args: argparse.Namespace) -> int:
    """``leave add`` records a supervisor-approved absence; ``leave list`` shows them."""
    from daemon.store.people import PeopleBook, parse_since

    settings = _settings(args.config)

    async def work(engine: Any) -> int:
        book = PeopleBook(engine)
        if args.action == "add":
            leave = await book.add_leave(
                agent=args.agent,
                start=args.start,
                end=args.until,
                by=args.by,
                reason=args.reason or "",
                now=datetime.now(UTC),
                roster=settings.roster,
            )
            print(f"leave {leave.id}: {leave.agent} from {leave.start} until {leave.end}")
        else:
            since = parse_since(args.since, settings.timezone, "--since") if args.since else None
            found = await book.leaves(agent=args.agent, since=since)
            _print_leaves([leave.to_json() for leave in found], args.format)
        return 0

    return _run_async(_with_engine(settings, work))


def _print_handovers(rows: Sequence[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"handovers": list(rows)}, ensure_ascii=False, indent=2))
        return
    print(f"{'id':>5}  {'day':10} {'shift':10} {'written_at':25} {'by':12} text")
    for row in rows:
        first = row["text"].splitlines()[0] if row["text"] else ""
        print(
            f"{row['id']:>5}  {row['day']:10} {row['shift']:10} {row['written_at'][:25]:25} "
            f"{row['by']:12} {first}"
        )
    print(f"{len(rows)} note(s)")


def cmd_handover(args: argparse.Namespace) -> int:
    """``handover add`` writes a note in the handover book; ``handover list`` reads it."""
    from daemon.store.people import PeopleBook, parse_day

    settings = _settings(args.config)

    async def work(engine: Any) -> int:
        book = PeopleBook(engine)
        if args.action == "add":
            note = await book.add_handover(
                shift=args.shift,
                day=args.day,
                by=args.by,
                text=args.text,
                now=datetime.now(UTC),
                shifts=[s.name for s in settings.shifts],
                calendar=settings.calendar(),
            )
            print(f"handover note {note.id}: {note.shift} {note.day} by {note.by}")
        else:
            since = parse_day(args.since, "--since") if args.since else None
            found = await book.handovers(shift=args.shift, since_day=since)
            _print_handovers([note.to_json() for note in found], args.format)
        return 0

    return _run_async(_with_engine(settings, work))


def _print_block(text: str) -> None:
    print(text, end="" if text.endswith("\n") else "\n")


def cmd_scorecard(args: argparse.Namespace) -> int:
    from daemon.scoring import entries as score_entries
    from daemon.scoring import records
    from daemon.scoring import render as scorecard_render

    settings = _settings(args.config)

    async def work(engine: Any) -> int:
        now = datetime.now(UTC)
        if args.action == "bonus":
            result = await score_entries.add_bonus(
                engine,
                settings,
                agent=args.agent,
                code=args.code,
                day=args.day,
                by=args.by,
                reason=args.reason,
                points=args.points,
                now=now,
                policy=read_policy(settings),
            )
            print(f"bonus {result['id']}: {result['agent']} +{result['points']}", result["code"])
        elif args.action == "adjust":
            result = await score_entries.set_adjustment(
                engine,
                settings,
                agent=args.agent,
                month=args.month,
                value=args.value,
                by=args.by,
                reason=args.reason,
                now=now,
                policy=read_policy(settings),
            )
            print(f"adjustment for {result['agent']} in {result['month']}: {result['value']:+d}")
        else:
            month = args.month or now.astimezone(settings.timezone).strftime("%Y-%m")
            card = await records.load_scorecard(
                engine,
                settings,
                records.parse_month(month),
                policy=read_policy(settings),
                now=now,
            )
            _print_block(scorecard_render.render(card, args.format))
        return 0

    return _run_async(_with_engine(settings, work))


def _new_password(args: argparse.Namespace) -> str:
    """From ``--password-file`` (its first line; ``-`` is standard input) or typed twice at
    a prompt: never from the command line, where ``ps`` and the shell's history would keep
    it."""
    import getpass

    if args.password_file:
        try:
            if args.password_file == "-":
                text = sys.stdin.readline()
            else:
                text = Path(args.password_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read it: {exc}", field="--password-file") from None
        lines = text.splitlines()
        return lines[0] if lines else ""
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise BadInput("the two passwords differ", field="password")
    return first


def _one_time_note(user: Any) -> str:
    return "; it is one-time: they choose their own at sign-in" if user.password_temporary else ""


def _operator() -> str:
    """Who ran the command, for the users' audit trail."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def cmd_user(args: argparse.Namespace) -> int:
    """``user add|passwd|disable|enable|list``: the people who sign in to the console."""
    from daemon.store.users import UserBook

    settings = _settings(args.config)

    async def work(engine: Any) -> int:
        book = UserBook(engine)
        now = datetime.now(UTC)
        if args.action == "list":
            for user in await book.all():
                state = "" if user.active else "  (disabled)"
                agent = f"  agent {user.agent}" if user.agent else ""
                once = "  (one-time password)" if user.password_temporary else ""
                signed_in = "never"
                if user.last_signed_in_at is not None:
                    local = user.last_signed_in_at.astimezone(settings.timezone)
                    signed_in = local.strftime("%Y-%m-%d %H:%M")
                print(
                    f"{user.name:20} {user.role:10} last sign-in {signed_in:16}{agent}{once}{state}"
                )
            return 0
        if args.action == "add":
            user = await book.add(
                name=args.name,
                role=args.role,
                agent=args.agent,
                password=_new_password(args),
                by=_operator(),
                now=now,
                roster=settings.roster,
                temporary=args.one_time,
            )
            print(f"user {user.name} added ({user.role}){_one_time_note(user)}")
        elif args.action == "passwd":
            await book.by_name(args.name)  # refuse an unknown name before asking
            user = await book.set_password(
                args.name, _new_password(args), by=_operator(), now=now, temporary=args.one_time
            )
            print(
                f"password of {user.name} changed; their sessions have ended{_one_time_note(user)}"
            )
        else:
            user = await book.set_active(
                args.name, args.action == "enable", by=_operator(), now=now
            )
            print(f"user {user.name} {'enabled' if user.active else 'disabled'}")
        return 0

    return _run_async(_with_engine(settings, work))


def cmd_replay(args: argparse.Namespace) -> int:
    from daemon.scoring.replay import render_replay, replay

    current, other = _settings(args.current), _settings(args.config)

    async def work(engine: Any) -> int:
        result = await replay(
            engine,
            current,
            other,
            args.month,
            policy=read_policy(current),
            now=datetime.now(UTC),
        )
        _print_block(render_replay(result))
        return 0

    return _run_async(_with_engine(current, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopwatch", description=__doc__)
    parser.add_argument("--log-level", default=os.environ.get("SHOPWATCH_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument(
        "--listen", default=None, help="HOST:PORT, instead of the config's [http] listen"
    )
    run.set_defaults(func=cmd_run)

    reload = sub.add_parser(
        "reload",
        help="SIGHUP a running daemon and wait until its new config is in force "
        "(the unit's ExecReload=); exit 1 if the config was rejected",
    )
    reload.add_argument("--pid", type=int, required=True, help="the daemon's pid ($MAINPID)")
    reload.add_argument(
        "--runtime-directory",
        default=os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or None,
        help="where the daemon records its reloads (default: $RUNTIME_DIRECTORY)",
    )
    reload.add_argument(
        "--timeout",
        type=float,
        default=RELOAD_TIMEOUT_SECONDS,
        help=f"seconds (default {RELOAD_TIMEOUT_SECONDS:g})",
    )
    reload.set_defaults(func=cmd_reload)

    demo = sub.add_parser("demo", help="the simulated shop and the daemon, no set-up")
    demo.add_argument(
        "--config", default=None, help="a config to use instead of the packaged demo config"
    )
    demo.add_argument(
        "--state-directory",
        default="var/demo",
        help="where the demo's config, database and tokens go (default: var/demo)",
    )
    demo.set_defaults(func=cmd_demo)

    simulate = sub.add_parser(
        "simulate", help="the built-in simulated shop alone (for trying a real install)"
    )
    simulate.add_argument(
        "--config", default=None, help="shifts and agents to simulate (default: the demo's)"
    )
    simulate.add_argument("--listen", default="127.0.0.1:9311", help="HOST:PORT (port 0: any)")
    simulate.add_argument(
        "--token-file",
        default=None,
        help="the bearer token the simulated shop requires (default: a fresh one in "
        "STATE_DIRECTORY/simulator-token)",
    )
    simulate.add_argument("--state-directory", default="var/simulate")
    simulate.set_defaults(func=cmd_simulate)

    check = sub.add_parser("check-config", help="validate a config file (exit 0 or 1)")
    check.add_argument("file")
    check.add_argument(
        "--secrets",
        action="store_true",
        help="also check secret files, and ask each platform once whether it answers and "
        "accepts the credentials",
    )
    check.add_argument("--shops", action="store_true", help="list every shop, one a line")
    check.set_defaults(func=cmd_check_config)

    rules = sub.add_parser("rules", help="each rule's code, options and documentation")
    rules.add_argument(
        "--table", action="store_true", help="print README's rules table (Markdown) instead"
    )
    rules.set_defaults(func=cmd_rules)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    db.add_argument("--config", default=DEFAULT_CONFIG)
    db.set_defaults(func=cmd_db)

    violations = sub.add_parser(
        "violations",
        help="list, show, confirm, waive, appeal violations; review lists those awaiting a "
        "supervisor",
    )
    vsub = violations.add_subparsers(dest="action", required=True)
    vlist = vsub.add_parser("list")
    for name in ("shop", "rule", "agent", "status", "since"):
        vlist.add_argument(f"--{name}")
    vlist.add_argument("--format", choices=["table", "json"], default="table")
    vshow = vsub.add_parser("show")
    vshow.add_argument("id", type=int)
    for action in ("waive", "confirm"):
        p = vsub.add_parser(action)
        p.add_argument("id", type=int)
        p.add_argument("--by", required=True, help="the supervisor's name")
        p.add_argument(
            "--reason", required=action == "waive", help="required to waive or decide an appeal"
        )
    vappeal = vsub.add_parser("appeal", help="the attributed agent disputes an open violation")
    vappeal.add_argument("id", type=int)
    vappeal.add_argument("--by", required=True, help="the agent's roster id")
    vappeal.add_argument("--reason", required=True)
    vreview = vsub.add_parser(
        "review", help="violations awaiting a supervisor: in review, or appealed"
    )
    vreview.add_argument("--shop")
    vreview.add_argument("--format", choices=["table", "json"], default="table")
    vadd = vsub.add_parser("add", help="record a catalogue violation by hand")
    vadd.add_argument("--code", required=True, help="a catalogue code (the policy catalogue)")
    vadd.add_argument("--agent")
    vadd.add_argument("--at", required=True, help="when it happened, RFC 3339")
    vadd.add_argument("--points", type=int)
    vadd.add_argument("--fine")
    vadd.add_argument("--note")
    vadd.add_argument("--by", required=True, help="the supervisor's name")
    for p in vsub.choices.values():
        p.add_argument("--config", default=DEFAULT_CONFIG)
    violations.set_defaults(func=cmd_violations)

    leave = sub.add_parser("leave", help="supervisor-approved absences: add, list")
    lsub = leave.add_subparsers(dest="action", required=True)
    ladd = lsub.add_parser("add", help="record an approved leave of one agent")
    ladd.add_argument("--agent", required=True, help="the agent's roster id")
    ladd.add_argument("--from", dest="start", required=True, help="RFC 3339, inclusive")
    ladd.add_argument("--until", required=True, help="RFC 3339, exclusive")
    ladd.add_argument("--by", required=True, help="the supervisor who approved it")
    ladd.add_argument("--reason", default="")
    llist = lsub.add_parser("list", help="leaves not over by --since")
    llist.add_argument("--agent")
    llist.add_argument("--since", help="RFC 3339, or a day YYYY-MM-DD")
    llist.add_argument("--format", choices=["table", "json"], default="table")
    for p in lsub.choices.values():
        p.add_argument("--config", default=DEFAULT_CONFIG)
    leave.set_defaults(func=cmd_leave)

    handover = sub.add_parser("handover", help="the handover book: add, list")
    hsub = handover.add_subparsers(dest="action", required=True)
    hadd = hsub.add_parser("add", help="write a note for a shift's occurrence")
    hadd.add_argument("--shift", required=True, help="the shift's name")
    hadd.add_argument("--day", required=True, help="YYYY-MM-DD the occurrence starts")
    hadd.add_argument("--by", required=True, help="who writes it")
    hadd.add_argument("--text", required=True, help="what is handed over")
    hlist = hsub.add_parser("list", help="notes for occurrences from --since on")
    hlist.add_argument("--shift")
    hlist.add_argument("--since", help="YYYY-MM-DD")
    hlist.add_argument("--format", choices=["table", "json"], default="table")
    for p in hsub.choices.values():
        p.add_argument("--config", default=DEFAULT_CONFIG)
    handover.set_defaults(func=cmd_handover)

    score = sub.add_parser("scorecard", help="monthly scorecards, bonuses and adjustments")
    score.add_argument("action", nargs="?", choices=["show", "bonus", "adjust"], default="show")
    score.add_argument("--month", help="YYYY-MM (show: default this month; adjust)")
    score.add_argument("--format", choices=["table", "csv", "json"], default="table")
    score.add_argument("--agent")
    score.add_argument("--code", help="a bonus code of the catalogue (bonus)")
    score.add_argument("--day", help="YYYY-MM-DD the bonus was earned (bonus)")
    score.add_argument("--points", type=int, help="within the catalogue's range (bonus)")
    score.add_argument("--value", type=int, help="-5 … +5 (adjust)")
    score.add_argument("--by", help="the supervisor's name")
    score.add_argument("--reason")
    score.add_argument("--config", default=DEFAULT_CONFIG)
    score.set_defaults(func=cmd_scorecard)

    user = sub.add_parser(
        "user", help="people who sign in to the console: add, passwd, disable, enable, list"
    )
    usub = user.add_subparsers(dest="action", required=True)
    uadd = usub.add_parser("add", help="a new user; the password is asked for (or a file)")
    uadd.add_argument("name")
    uadd.add_argument("--role", required=True, choices=["agent", "supervisor", "lead"])
    uadd.add_argument("--agent", help="an agent's roster id (role agent)")
    upasswd = usub.add_parser("passwd", help="a new password; the user's sessions end")
    upasswd.add_argument("name")
    for p in (uadd, upasswd):
        p.add_argument(
            "--password-file",
            help="read the password from this file's first line ('-': standard input) "
            "instead of a prompt",
        )
        p.add_argument(
            "--one-time",
            action="store_true",
            help="the person must choose their own password at their next sign-in (as a "
            "lead's reset in the console); for a password set for somebody else",
        )
    for action in ("disable", "enable"):
        usub.add_parser(action, help=f"{action} a user (sessions end)").add_argument("name")
    usub.add_parser("list", help="every user: role, last sign-in, agent, one-time password")
    for p in usub.choices.values():
        p.add_argument("--config", default=DEFAULT_CONFIG)
    user.set_defaults(func=cmd_user)

    replay = sub.add_parser("replay", help="what another config would have recorded")
    replay.add_argument("--config", required=True, help="the other policy's config file")
    replay.add_argument("--month", required=True, help="YYYY-MM")
    replay.add_argument("--current", default=DEFAULT_CONFIG, help="the running config")
    replay.set_defaults(func=cmd_replay)
    return parser


def _instant(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadInput("expected a time with offset, e.g. 2026-11-02T10:00+08:00", field=option)
    return moment.astimezone(UTC)


def _number(text: str, option: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise BadInput(f"expected a number, not {text!r}", field=option)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Every command; a refusal (bad input, not found, conflict) is one line and exit 1,
    the same refusals the HTTP API answers with 400, 404 and 409."""
    from daemon.config.secrets import SecretError
    from daemon.store.identity import DatabaseUnavailable

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (Refused, DatabaseUnavailable, SecretError) as exc:
        print(f"shopwatch: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
