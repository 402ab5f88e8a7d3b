"""Builders for scorecard tests: local times in Asia/Shanghai, plain records, the default policy."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.config.settings import Settings, parse
from daemon.scoring.month import Month
from daemon.scoring.policy import Policy
from daemon.scoring.policy_file import DEFAULT_POLICY, load
from daemon.scoring.scorecard import (
    AdjustmentRecord,
    AgentRecord,
    BonusRecord,
    MonthRecords,
    Scorecard,
    ViolationRecord,
    compute_scorecard,
)

TZ = ZoneInfo("Asia/Shanghai")
NOVEMBER = Month(2026, 11)
POLICY: Policy = load(DEFAULT_POLICY)


def at(text: str) -> datetime:
    """``"2026-11-02 10:00"`` in shop time, timezone-aware."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def violation(
    agent: str | None = "a1",
    rule: str = "CS101",
    *,
    points: int = 2,
    fine: str = "0",
    status: str = "open",
    deadline: str = "2026-11-10 10:00",
    id: int | None = None,
) -> ViolationRecord:
    return ViolationRecord(
        id=id,
        agent=agent,
        rule=rule,
        deadline=at(deadline),
        points=points,
        fine=Decimal(fine),
        status=status,
    )


def bonus(agent: str = "a1", code: str = "B203", points: int = 5) -> BonusRecord:
    return BonusRecord(agent=agent, code=code, points=points)


def adjustment(agent: str = "a1", value: int = 1, reason: str = "led the sale") -> AdjustmentRecord:
    return AdjustmentRecord(agent=agent, value=value, reason=reason, by="boss")


def card(
    *,
    violations: Sequence[ViolationRecord] = (),
    bonuses: Sequence[BonusRecord] = (),
    adjustments: Sequence[AdjustmentRecord] = (),
    agents: Sequence[AgentRecord] = (AgentRecord(id="a1"),),
    previous: Sequence[dict[str, int]] = (),
    month: Month = NOVEMBER,
    policy: Policy = POLICY,
) -> Scorecard:
    return compute_scorecard(
        month=month,
        timezone=TZ,
        policy=policy,
        agents=agents,
        records=MonthRecords(
            violations=tuple(violations),
            bonuses=tuple(bonuses),
            adjustments=tuple(adjustments),
        ),
        previous=previous,
    )


def scored(points: int, **kwargs: object) -> Scorecard:
    """A one-agent card whose score is ``points`` exactly, reached with bonuses, violations
    and (for an odd remainder) the adjustment."""
    delta = points - 80
    bonuses, violations, adjustments = [], [], []
    if delta > 0:
        bonuses = [bonus() for _ in range(delta // 5)]
        if delta % 5:
            adjustments = [adjustment(value=delta % 5)]
    elif delta < 0:
        violations = [violation(points=-delta)]
    return card(bonuses=bonuses, violations=violations, adjustments=adjustments, **kwargs)  # type: ignore[arg-type]


HIRED_MID_OCTOBER = AgentRecord(id="a1", name="李娜", hired=date(2026, 10, 15))


PEOPLE_RULES_OFF = "".join(
    f"[rules.{code}]\nenabled = false\n" for code in ("CS108", "CS109", "CS110", "CS111", "CS112")
)
"""The rules about people at their posts: off here, where the stories are about buyers (no
handover notes, no presence history, which CS108–CS112 would rightly report)."""


def settings_text(database_url: str, *, extra: str = "", people_rules: bool = False) -> str:
    """Day shift 08:30–17:30 (a1, a2), night 17:30–24:00 (a3); a3 hired mid-October."""
    extra = extra if people_rules else f"{PEOPLE_RULES_OFF}{extra}"
    return f"""
timezone = "Asia/Shanghai"
[database]
url = "{database_url}"
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
[[agents]]
id = "a1"
name = "李娜"
[[agents]]
id = "a2"
name = "Wang Wei"
[[agents]]
id = "a3"
name = "Zhang Min"
hired = 2026-10-15
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
{extra}
"""


def make_settings(
    tmp_path: Path,
    database_url: str,
    *,
    extra: str = "",
    name: str = "shopwatch",
    people_rules: bool = False,
) -> Settings:
    (tmp_path / "token").write_text("t", encoding="utf-8")
    text = settings_text(database_url, extra=extra, people_rules=people_rules)
    return parse(tomllib.loads(text), str(tmp_path / f"{name}.toml"), tmp_path)
