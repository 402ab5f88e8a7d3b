"""The config file: one TOML file, read strictly (SPEC §6).

Unknown keys and bad values are errors that name the file and the dotted key, so
``shopwatch check-config`` can tell an operator exactly what to fix. Secrets are never
inline: a ``*_file`` key names a file, or a bare systemd credential name.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from checks.business_time import BusinessCalendar, Holiday, Shift
from checks.options import RuleOptions
from checks.registry import RULES
from connectors import registry as connector_registry
from connectors.base import SourceConfig
from connectors.model import Stream
from connectors.options import OptionError
from daemon.config.alert_settings import AlertSettings, parse_alerts
from daemon.config.console_settings import ConsoleSettings, parse_console
from daemon.config.options import options_from_table
from daemon.config.secrets import masked_url, resolve_secret_path, secret_reader
from daemon.config.toml_table import (
    ConfigError,
    TomlTable,
    boolean,
    duration,
    positive_duration,
    read_toml,
    text,
    whole_number,
)

__all__ = ["ConfigError", "Settings", "load", "parse", "resolve_secret_path"]

DEFAULT_LISTEN = "127.0.0.1:9310"
DEFAULT_TIMEZONE = "Asia/Shanghai"
HORIZON_MARGIN = timedelta(days=2)

_WEEKDAYS = {
    name: index
    for index, names in enumerate(
        [
            ("mon", "monday", "周一", "星期一"),
            ("tue", "tuesday", "周二", "星期二"),
            ("wed", "wednesday", "周三", "星期三"),
            ("thu", "thursday", "周四", "星期四"),
            ("fri", "friday", "周五", "星期五"),
            ("sat", "saturday", "周六", "星期六"),
            ("sun", "sunday", "周日", "星期日", "星期天"),
        ]
    )
    for name in names
}


# ---- value converters: each raises ValueError/TypeError with a message for people ----


def _wall_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value.strip()):
        parts = [int(p) for p in value.strip().split(":")]
        if parts[0] == 24 and parts[1:] in ([0], [0, 0]):
            return time(0, 0)  # "24:00" is midnight at the end of the day
        return time(parts[0], parts[1], parts[2] if len(parts) > 2 else 0)
    raise ValueError('expected a time of day such as "08:30" or "24:00"')


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise TypeError('expected a date such as 2026-10-01 or "2026-10-01"')


def _weekday(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in _WEEKDAYS:
        return _WEEKDAYS[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 7:
        return 6 if value in (0, 7) else value - 1  # ISO 1=Mon … 7=Sun; 0 also Sunday
    raise ValueError(f'{value!r} is not a weekday; write "mon" … "sun" (or ISO 1=Mon … 7=Sun)')


def _weekdays(value: Any) -> frozenset[int]:
    if not isinstance(value, list):
        raise TypeError('expected a list of weekdays, e.g. ["sat", "sun"]')
    return frozenset(_weekday(day) for day in value)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _listen(value: Any) -> tuple[str, int]:
    given = text(value)
    host, sep, port = given.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'{given!r} is not host:port, e.g. "127.0.0.1:9310"')
    return host.strip("[]") or "127.0.0.1", int(port)


def _database_url(value: Any) -> str:
    """A SQLAlchemy URL (``sqlite+aiosqlite:///path``, ``postgresql+asyncpg://user@host/db``);
    checked here so a malformed one is a config error, not a traceback at start."""
    given = text(value)
    try:
        url = make_url(given)
    except (ArgumentError, ValueError):
        raise ValueError(
            "not a database URL; e.g. sqlite+aiosqlite:////var/lib/shopwatch/shopwatch.db or "
            "postgresql+asyncpg://shopwatch@db.example/shopwatch"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"{url.get_backend_name()!r} is not supported: use sqlite or postgresql")
    if url.get_backend_name() == "postgresql" and not url.host and "host" not in url.query:
        raise ValueError(
            "a PostgreSQL URL names its host, e.g. postgresql+asyncpg://shopwatch@db/shopwatch"
        )
    return given


def _hosts(value: Any) -> tuple[str, ...]:
    hosts = _strings(value)
    for host in hosts:
        if not re.fullmatch(r"[A-Za-z0-9.:\[\]_-]+", host):
            raise ValueError(f"{host!r} is not a host name or address")
    return tuple(h.strip("[]").lower() for h in hosts)


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(text(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") from None


# ---- the settings ----


@dataclass(frozen=True, kw_only=True)
class StreamSettings:
    stream: Stream
    kind: str
    base_url: str
    """Empty for a kind with no network endpoint (``files``)."""
    token_file: Path | None
    """``None`` for a kind with no network endpoint (``files``)."""
    poll_interval: timedelta
    backfill: timedelta
    settle: timedelta
    timeout: timedelta
    page_size: int
    options: Any
    """The kind's own keys, typed: an instance of the kind's ``options_type``."""
    secret_files: Mapping[str, Path]
    """The paths named by the options' ``*_file`` keys."""

    def source_config(self) -> SourceConfig[Any]:
        files = dict(self.secret_files)
        return SourceConfig(
            kind=self.kind,
            base_url=self.base_url,
            token=secret_reader(self.token_file) if self.token_file else lambda: "",
            timeout=self.timeout.total_seconds(),
            page_size=self.page_size,
            options=self.options,
            read_secret=lambda key: secret_reader(files[key])(),
        )


@dataclass(frozen=True, kw_only=True)
class ShopSettings:
    id: str
    name: str
    orders: StreamSettings
    chat: StreamSettings

    def stream(self, stream: Stream) -> StreamSettings:
        return self.orders if stream is Stream.ORDERS else self.chat


@dataclass(frozen=True, kw_only=True)
class AgentSettings:
    id: str
    name: str
    hired: date | None
    days_off: frozenset[int]


@dataclass(frozen=True, kw_only=True)
class Settings:
    config_file: str
    """The file these settings were read from (error messages name it; a relative
    ``policy_file`` is read beside it)."""
    timezone: ZoneInfo
    database_url: str
    listen: tuple[str, int]
    api_token_file: Path | None
    evaluation_interval: timedelta
    horizon: timedelta
    shops: tuple[ShopSettings, ...]
    agents: tuple[AgentSettings, ...]
    shifts: tuple[Shift, ...]
    holidays: tuple[Holiday, ...]
    rules: Mapping[str, RuleOptions]
    alerts: AlertSettings = field(default_factory=AlertSettings)
    policy_file: Path | None = None
    """``[scorecard] policy_file``: the shop's policy catalogue. Unset: ``policy.toml`` beside
    the config file if there is one, else the catalogue shipped with shopwatch."""
    appeal_window: timedelta = timedelta(days=7)
    """``[scorecard] appeal_window``: how long after detection an agent may appeal (SPEC §4)."""
    database_password_file: Path | None = None
    """``[database] password_file``: the database password, merged into the URL when the
    engine is made (never written into the URL, never logged)."""
    read_token_file: Path | None = None
    """``[http] read_token_file``: a bearer token that may read the JSON API but not write."""
    allowed_hosts: tuple[str, ...] = ()
    """``[http] allowed_hosts``: ``Host`` names accepted besides the listen address and
    loopback names (a request naming any other host is refused: DNS rebinding)."""
    max_connections: int = 256
    """``[http] max_connections``: connections the listener holds at once; more are refused."""
    idle_timeout: timedelta = timedelta(seconds=15)
    """``[http] idle_timeout``: a connection that has not sent a whole request's headers
    within this time (or sits idle between requests that long) is closed."""
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    """``[console]``: sign-in sessions of the people's pages (SPEC §8)."""

    def database(self) -> URL:
        """The database URL to connect with: the password of ``[database] password_file``
        read now and merged in (a rotated file is used at the next start)."""
        url = make_url(self.database_url)
        if self.database_password_file is not None:
            url = url.set(password=secret_reader(self.database_password_file)())
        return url

    def database_shown(self) -> str:
        """The database URL as logs and errors may show it: the password masked."""
        return masked_url(self.database_url)

    @property
    def roster(self) -> frozenset[str]:
        return frozenset(agent.id for agent in self.agents)

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            timezone=self.timezone,
            shifts=self.shifts,
            holidays=self.holidays,
            days_off={agent.id: agent.days_off for agent in self.agents},
            roster=tuple(agent.id for agent in self.agents),
        )

    def enabled_rules(self) -> list[tuple[Any, RuleOptions]]:
        return [(rule, self.rules[rule.code]) for rule in RULES if self.rules[rule.code].enabled]


def _stream(table: TomlTable, stream: Stream, config_dir: Path) -> StreamSettings:
    kind_name = table.get("kind", text)
    try:
        kind = connector_registry.lookup(kind_name, stream)
    except OptionError as exc:
        raise table.error(exc.key, exc.message) from None
    base_url, token_file = "", None
    if kind.endpoint:
        base_url = table.get("base_url", text)
        token_file = resolve_secret_path(table.get("token_file", text), config_dir)
    else:
        for key in ("base_url", "token_file"):
            if table.has(key):
                raise table.error(
                    key, f"kind {kind_name!r} reads no network endpoint: remove {key}"
                )
    settings = StreamSettings(
        stream=stream,
        kind=kind_name,
        base_url=base_url,
        token_file=token_file,
        poll_interval=table.get("poll_interval", positive_duration, timedelta(seconds=30)),
        backfill=table.get("backfill", duration, timedelta(hours=24)),
        settle=table.get("settle", duration, timedelta(seconds=60)),
        timeout=table.get("timeout", positive_duration, timedelta(seconds=30)),
        page_size=table.get("page_size", whole_number, 500),
        options=options_from_table(kind.options_type, table, owner=f"kind {kind_name!r}"),
        secret_files={},
    )
    secret_files = {
        f.name: resolve_secret_path(getattr(settings.options, f.name), config_dir)
        for f in dataclasses.fields(settings.options)
        if f.name.endswith("_file") and getattr(settings.options, f.name) is not None
    }
    return dataclasses.replace(settings, secret_files=secret_files)


def _shop(table: TomlTable, config_dir: Path) -> ShopSettings:
    shop_id = table.get("id", text)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", shop_id):
        raise table.error("id", "use letters, digits, '.', '_' or '-' (at most 64)")
    shop = ShopSettings(
        id=shop_id,
        name=table.get("name", text, shop_id),
        orders=_stream(table.table("orders"), Stream.ORDERS, config_dir),
        chat=_stream(table.table("chat"), Stream.CHAT, config_dir),
    )
    table.finish()
    return shop


def _agent(table: TomlTable) -> AgentSettings:
    agent = AgentSettings(
        id=table.get("id", text),
        name=table.get("name", text, ""),
        hired=table.get("hired", _date, None),
        days_off=table.get("days_off", _weekdays, frozenset()),
    )
    table.finish()
    return agent


def _shift(table: TomlTable, roster: frozenset[str]) -> Shift:
    agents = table.get("agents", _strings, ())
    for agent in agents:
        if agent not in roster:
            raise table.error("agents", f"{agent!r} is not in the [[agents]] roster")
    handover_by = table.get("handover_by", text, None)
    if handover_by is not None and handover_by not in roster:
        raise table.error("handover_by", f"{handover_by!r} is not in the [[agents]] roster")
    shift = Shift(
        name=table.get("name", text),
        start=table.get("start", _wall_time),
        end=table.get("end", _wall_time),
        agents=agents,
        handover=table.get("handover", boolean, True),
        handover_by=handover_by,
    )
    table.finish()
    return shift


def _holiday(table: TomlTable) -> Holiday:
    start = table.get("start", _wall_time, None)
    end = table.get("end", _wall_time, None)
    if (start is None) != (end is None):
        raise table.error("end" if end is None else "start", "give both start and end, or neither")
    agents = table.get("agents", _strings, None)
    holiday = Holiday(
        day=table.get("date", _date),
        name=table.get("name", text, "holiday"),
        start=start,
        end=end,
        agents=agents,
    )
    table.finish()
    return holiday


def _rules(table: TomlTable) -> dict[str, RuleOptions]:
    result = {}
    for rule in RULES:
        sub = table.table(rule.code, required=False)
        result[rule.code] = options_from_table(rule.options_type, sub)
    table.finish(hint="; `shopwatch rules` lists the rule codes")
    return result


def _default_database_url() -> str:
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    directory = Path(state) if state else Path.cwd()
    return f"sqlite+aiosqlite:///{directory / 'shopwatch.db'}"


def parse(data: Mapping[str, Any], file: str, config_dir: Path) -> Settings:
    root = TomlTable(data, "", file)
    timezone = root.get("timezone", _zone, ZoneInfo(DEFAULT_TIMEZONE))

    database = root.table("database", required=False)
    database_url = database.get("url", _database_url, _default_database_url())
    password_file = database.get("password_file", text, None)
    if password_file is not None and make_url(database_url).password is not None:
        raise database.error("password_file", "the url has a password too: give only one")
    database.finish()

    http = root.table("http", required=False)
    listen = http.get("listen", _listen, _listen(DEFAULT_LISTEN))
    api_token = http.get("api_token_file", text, None)
    read_token = http.get("read_token_file", text, None)
    allowed_hosts = http.get("allowed_hosts", _hosts, ())
    max_connections = http.get("max_connections", whole_number, 256)
    if not 8 <= max_connections <= 65536:
        raise http.error("max_connections", "expected a whole number from 8 to 65536")
    idle_timeout = http.get("idle_timeout", positive_duration, timedelta(seconds=15))
    http.finish()

    evaluation = root.table("evaluation", required=False)
    evaluation_interval = evaluation.get("interval", positive_duration, timedelta(seconds=10))
    horizon = evaluation.get("horizon", positive_duration, timedelta(days=3))
    evaluation.finish()

    agent_tables = root.tables("agents")
    agents = tuple(_agent(t) for t in agent_tables)
    _unique([a.id for a in agents], root, "agents", "agent id")
    roster = frozenset(a.id for a in agents)

    shops = tuple(_shop(t, config_dir) for t in root.tables("shops"))
    if not shops:
        raise root.error("shops", "at least one [[shops]] table is required")
    _unique([s.id for s in shops], root, "shops", "shop id")
    # A restart must re-read at least all the history a first start reads, plus what the
    # rules look back from it (CS101's sibling window, deadlines across a weekend).
    longest_backfill = max(shop.stream(stream).backfill for shop in shops for stream in Stream)
    horizon = max(horizon, longest_backfill + HORIZON_MARGIN)

    shifts = tuple(_shift(t, roster) for t in root.tables("shifts"))
    _unique([s.name for s in shifts], root, "shifts", "shift name")
    holidays = tuple(_holiday(t) for t in root.tables("holidays"))
    rules = _rules(root.table("rules", required=False))
    scorecard = root.table("scorecard", required=False)
    policy_file = scorecard.get("policy_file", text, None)
    appeal_window = scorecard.get("appeal_window", positive_duration, timedelta(days=7))
    scorecard.finish()
    alerts = parse_alerts(root.raw("alerts", {}), file, config_dir)
    console = parse_console(root.table("console", required=False), config_dir)
    root.finish()

    settings = Settings(
        config_file=file,
        timezone=timezone,
        database_url=database_url,
        listen=listen,
        api_token_file=resolve_secret_path(api_token, config_dir) if api_token else None,
        evaluation_interval=evaluation_interval,
        horizon=horizon,
        shops=shops,
        agents=agents,
        shifts=shifts,
        holidays=holidays,
        rules=rules,
        alerts=alerts,
        policy_file=config_dir / policy_file if policy_file else None,
        appeal_window=appeal_window,
        database_password_file=(
            resolve_secret_path(password_file, config_dir) if password_file else None
        ),
        read_token_file=resolve_secret_path(read_token, config_dir) if read_token else None,
        allowed_hosts=allowed_hosts,
        max_connections=max_connections,
        idle_timeout=idle_timeout,
        console=console,
    )
    try:
        settings.calendar()
    except (ValueError, TypeError) as exc:
        raise ConfigError(file, "shifts", str(exc)) from None
    return settings


def _unique(values: list[str], table: TomlTable, key: str, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise table.error(key, f"{what} {value!r} appears twice")
        seen.add(value)


def load(path: str | Path) -> Settings:
    path = Path(path)
    return parse(read_toml(path), str(path), path.resolve().parent)


def missing_secrets(settings: Settings) -> list[str]:
    """Secret files that cannot be read, as ``key: path`` lines (checked before running)."""
    problems = []
    for shop in settings.shops:
        for stream in (shop.orders, shop.chat):
            files: dict[str, Path] = {"token_file": stream.token_file} if stream.token_file else {}
            files.update(stream.secret_files)
            for key, path in files.items():
                if not os.access(path, os.R_OK):
                    problems.append(f"shops.{shop.id}.{stream.stream.value}.{key}: {path}")
    if settings.api_token_file and not os.access(settings.api_token_file, os.R_OK):
        problems.append(f"http.api_token_file: {settings.api_token_file}")
    if settings.read_token_file and not os.access(settings.read_token_file, os.R_OK):
        problems.append(f"http.read_token_file: {settings.read_token_file}")
    password = settings.database_password_file
    if password and not os.access(password, os.R_OK):
        problems.append(f"database.password_file: {password}")
    key_file = settings.console.session_key_file
    if key_file and not os.access(key_file, os.R_OK):
        problems.append(f"console.session_key_file: {key_file}")
    for key, path in settings.alerts.secret_files():
        if not os.access(path, os.R_OK):
            problems.append(f"{key}: {path}")
    return problems
