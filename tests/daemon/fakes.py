"""Fakes for the daemon's tests: a scripted source and helpers to build settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.model import AgentPresence, Message, Order, Page
from daemon.config.settings import Settings, parse

Step = Page[Any] | Exception


class ScriptedSource:
    """Answers each fetch with the next scripted page or error, recording the calls."""

    def __init__(self, steps: list[Step] | None = None) -> None:
        self.steps = list(steps or [])
        self.calls: list[tuple[datetime, str | None]] = []
        self.presence: list[AgentPresence] | None = None
        self.closed = False

    def _next(self, since: datetime, token: str | None) -> Any:
        self.calls.append((since, token))
        step = self.steps.pop(0) if self.steps else Page(items=(), next_page_token=None)
        if isinstance(step, Exception):
            raise step
        return step

    async def fetch_orders(self, since: datetime, page_token: str | None) -> Page[Order]:
        return self._next(since, page_token)  # type: ignore[no-any-return]

    async def fetch_messages(self, since: datetime, page_token: str | None) -> Page[Message]:
        return self._next(since, page_token)  # type: ignore[no-any-return]

    async def fetch_presence(self) -> list[AgentPresence] | None:
        return self.presence

    async def aclose(self) -> None:
        self.closed = True


def page(*items: Any, next_token: str | None = None) -> Page[Any]:
    return Page(items=tuple(items), next_page_token=next_token)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


PEOPLE_RULES_OFF = "".join(
    f"[rules.{code}]\nenabled = false\n" for code in ("CS108", "CS109", "CS110", "CS111", "CS112")
)


def settings_for(
    tmp_path: Path,
    *,
    database_url: str,
    base_url: str | dict[str, str] = "http://127.0.0.1:1",
    extra: str = "",
    shops: tuple[str, ...] = ("s",),
    settle: str = "60s",
    backfill: str = "24h",
    people_rules: bool = False,
) -> Settings:
    """A small config with day 08:30–17:30 (a1, a2) and night 17:30–24:00 (a3).
    ``base_url`` may map shop ids to their own shop API. The rules about people at their
    posts (CS108–CS112) are off unless ``people_rules``: the buyers' stories here write no
    handover notes and keep no presence history, which those rules would rightly report."""
    urls = base_url if isinstance(base_url, dict) else dict.fromkeys(shops, base_url)
    token = tmp_path / "token"
    token.write_text("test-token")
    shop_tables = "".join(
        f"""
[[shops]]
id = "{shop}"
[shops.orders]
kind = "generic"
base_url = "{urls[shop]}"
token_file = "token"
poll_interval = "30s"
backfill = "{backfill}"
settle = "{settle}"
[shops.chat]
kind = "generic"
base_url = "{urls[shop]}"
token_file = "token"
poll_interval = "30s"
backfill = "{backfill}"
settle = "{settle}"
"""
        for shop in shops
    )
    text = f"""
timezone = "Asia/Shanghai"
[database]
url = "{database_url}"
[http]
listen = "127.0.0.1:0"
api_token_file = "token"
{shop_tables}
[[agents]]
id = "a1"
[[agents]]
id = "a2"
[[agents]]
id = "a3"
[[shifts]]
name = "day"
start = "08:30"
end = "17:30"
agents = ["a1", "a2"]
[[shifts]]
name = "night"
start = "17:30"
end = "24:00"
agents = ["a3"]
{"" if people_rules else PEOPLE_RULES_OFF}
{extra}
"""
    import tomllib

    return parse(tomllib.loads(text), str(tmp_path / "test.toml"), tmp_path)


SourceFactoryFor = Callable[..., Any]
