"""Reading the shop's policy file into :class:`~daemon.scoring.policy.Policy`.

The file is read strictly, like the main config and with the same reader and converters
(:mod:`daemon.config.toml_table`): an unknown key or a bad value is a :class:`PolicyError`
that names the file and the dotted key, so a typo never silently changes anybody's pay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from daemon.config.settings import ConfigError, Settings
from daemon.config.toml_table import (
    TomlTable,
    amount,
    amounts,
    boolean,
    count,
    fraction,
    integer,
    one_of,
    positive_duration,
    read_toml,
    text,
    whole_number,
)
from daemon.scoring.policy import (
    SEVERITIES,
    TOP_BY,
    Bonus,
    ConversionPolicy,
    Deduction,
    DutyEscalation,
    GradeBand,
    Ladder,
    PayPolicy,
    Policy,
    ScorePolicy,
)

DEFAULT_POLICY: Traversable = files("daemon.scoring") / "policy.toml"
"""The catalogue shipped inside the package (policy 2's tables)."""
POLICY_FILE_NAME = "policy.toml"

_CODE = re.compile(r"[A-Z][A-Z0-9_-]{1,15}")
_RULE_CODE = re.compile(r"CS\d{3}")


class PolicyError(ConfigError):
    """A problem in the policy file, naming the file and the dotted key."""


# ---- this file's own values, built on the config's converters ----


def _name(value: Any) -> str:
    return text(value).strip()


def _points_range(value: Any) -> tuple[int, int]:
    """``5`` or ``[2, 5]``."""
    if isinstance(value, list):
        if len(value) != 2:
            raise ValueError("expected a number of points or a [min, max] range")
        low, high = (integer(v) for v in value)
    else:
        low = high = integer(value)
    if low < 0 or high < low:
        raise ValueError("points must be ≥ 0, a range as [min, max] with min ≤ max")
    return low, high


def _code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError("a code is 2–16 capital letters, digits, '_' or '-', e.g. M201")
    return value


def _codes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a non-empty list of rule or catalogue codes")
    return tuple(_code(v) for v in value)


# ---- the tables ----


def _grades(table: TomlTable) -> tuple[GradeBand, ...]:
    raw = table.data.get("grades")
    table.used.add("grades")
    if raw is None:
        return ScorePolicy().grades
    if not isinstance(raw, list) or not raw:
        raise table.error("grades", "expected a list of { grade, above | at_least } tables")
    bands = []
    for i, item in enumerate(raw):
        band = table.child(item, table.key(f"grades[{i}]"))
        grade = band.get("grade", _name)
        above = band.get("above", amount, None)
        at_least = band.get("at_least", amount, None)
        if (above is None) == (at_least is None):
            raise band.error("above", "give exactly one of above (>) or at_least (≥)")
        band.finish()
        threshold = above if above is not None else at_least
        assert threshold is not None
        bands.append(GradeBand(grade=grade, threshold=threshold, strict=above is not None))
    if [b.threshold for b in bands] != sorted((b.threshold for b in bands), reverse=True):
        raise table.error("grades", "list the grades best first, thresholds decreasing")
    return tuple(bands)


def _score(table: TomlTable) -> ScorePolicy:
    defaults = ScorePolicy()
    score = ScorePolicy(
        base=table.get("base", integer, defaults.base),
        cap=table.get("cap", integer, defaults.cap),
        adjustment_limit=table.get("adjustment_limit", whole_number, defaults.adjustment_limit),
        grades=_grades(table),
        below_grades=table.get("below_grades", _name, defaults.below_grades),
        dismissal_below=table.get("dismissal_below", integer, defaults.dismissal_below),
        last_place_below=table.get("last_place_below", integer, defaults.last_place_below),
        last_place_months=table.get("last_place_months", count, defaults.last_place_months),
        last_place_only=table.get("last_place_only", boolean, defaults.last_place_only),
    )
    table.finish()
    if score.cap < score.base:
        raise table.error("cap", "the cap must not be below the base score")
    return score


def _pay(table: TomlTable) -> PayPolicy:
    defaults = PayPolicy()
    pay = PayPolicy(
        per_point=table.get("per_point", amount, defaults.per_point),
        limit=table.get("limit", amount, defaults.limit),
        probation_months=table.get("probation_months", whole_number, defaults.probation_months),
    )
    table.finish()
    return pay


def _conversion(table: TomlTable) -> ConversionPolicy:
    defaults = ConversionPolicy()
    conversion = ConversionPolicy(
        window=table.get("window", positive_duration, defaults.window),
        threshold=table.get("threshold", fraction, defaults.threshold),
        rate_below=table.get("rate_below", fraction, defaults.rate_below),
        rate_at_or_above=table.get("rate_at_or_above", fraction, defaults.rate_at_or_above),
        top_by=table.get("top_by", one_of(TOP_BY), defaults.top_by),
        top_awards=table.get("top_awards", amounts, defaults.top_awards),
    )
    table.finish()
    return conversion


def _ladder(name: str, table: TomlTable) -> Ladder:
    table.get("zh", _name, "")
    codes = table.get("codes", _codes)
    ladder = Ladder(
        name=name,
        codes=codes,
        fines=table.get("fines", amounts),
        growth=table.get("growth", amount, Decimal(1)),
        withhold_pay_from=table.get("withhold_pay_from", count, None),
        dismissal_from=table.get("dismissal_from", count, None),
    )
    table.finish()
    return ladder


def _deduction(code: str, table: TomlTable) -> Deduction:
    low, high = table.get("points", _points_range)
    entry = Deduction(
        code=code,
        zh=table.get("zh", _name),
        en=table.get("en", _name, ""),
        points_min=low,
        points_max=high,
        severity=table.get("severity", one_of(SEVERITIES)),
        fine=table.get("fine", amount, Decimal(0)),
        compensation=table.get("compensation", boolean, False),
        derived=table.get("derived", boolean, False),
    )
    table.finish()
    return entry


def _bonus(code: str, table: TomlTable) -> Bonus:
    low, high = table.get("points", _points_range)
    entry = Bonus(
        code=code,
        zh=table.get("zh", _name),
        en=table.get("en", _name, ""),
        points_min=low,
        points_max=high,
        per_month=table.get("per_month", count, None),
    )
    table.finish()
    return entry


def _catalogue_code(table: TomlTable, code: str) -> str:
    try:
        _code(code)
    except ValueError as exc:
        raise table.error(code, str(exc)) from None
    if _RULE_CODE.fullmatch(code):
        raise table.error(code, "CSxxx codes belong to the automatic rules; use another prefix")
    return code


def _duty_escalation(root: TomlTable, deductions: Mapping[str, Deduction]) -> DutyEscalation | None:
    if "duty_escalation" not in root.data:
        root.used.add("duty_escalation")
        return None
    table = root.table("duty_escalation", required=False)
    escalation = DutyEscalation(
        code=table.get("code", _name),
        moderate_codes=table.get("moderate_codes", count),
        light_codes=table.get("light_codes", count),
    )
    table.finish()
    entry = deductions.get(escalation.code)
    if entry is None or not entry.derived:
        raise table.error("code", "must name a deduction with derived = true")
    return escalation


def parse(data: Mapping[str, Any], file: str) -> Policy:
    root = TomlTable(data, "", file, PolicyError)
    score = _score(root.table("score", required=False))
    pay = _pay(root.table("pay", required=False))
    conversion = _conversion(root.table("conversion", required=False))

    deductions_table = root.table("deductions", required=False)
    deductions = {
        _catalogue_code(deductions_table, code): _deduction(code, sub)
        for code, sub in deductions_table.items()
    }
    bonuses_table = root.table("bonuses", required=False)
    bonuses = {
        _catalogue_code(bonuses_table, code): _bonus(code, sub)
        for code, sub in bonuses_table.items()
    }
    for code in bonuses:
        if code in deductions:
            raise bonuses_table.error(code, "the same code is also a deduction")

    ladders_table = root.table("ladders", required=False)
    ladders = tuple(_ladder(name, sub) for name, sub in ladders_table.items())
    seen: dict[str, str] = {}
    for ladder in ladders:
        for code in ladder.codes:
            key = f"{ladder.name}.codes"
            if code in seen:
                raise ladders_table.error(key, f"{code} is already on ladder {seen[code]!r}")
            if not _RULE_CODE.fullmatch(code) and code not in deductions:
                raise ladders_table.error(key, f"{code} is neither a rule nor a deduction code")
            seen[code] = ladder.name

    escalation = _duty_escalation(root, deductions)
    root.finish()
    return Policy(
        file=file,
        score=score,
        pay=pay,
        conversion=conversion,
        duty_escalation=escalation,
        ladders=ladders,
        deductions=deductions,
        bonuses=bonuses,
    )


# ---- the file ----


def load(path: Path | Traversable) -> Policy:
    return parse(read_toml(path, PolicyError), str(path))


def policy_path(settings: Settings) -> Path | Traversable:
    """The shop's catalogue: ``[scorecard] policy_file`` when the config sets it; else
    ``policy.toml`` beside the config file if the shop has one; else the shipped default."""
    if settings.policy_file is not None:
        if not settings.policy_file.is_file():
            raise ConfigError(
                settings.config_file,
                "scorecard.policy_file",
                f"{settings.policy_file}: no such file",
            )
        return settings.policy_file
    beside = Path(settings.config_file).resolve().parent / POLICY_FILE_NAME
    return beside if beside.is_file() else DEFAULT_POLICY


def read_policy(settings: Settings) -> Policy:
    """The shop's policy, read now (a command's one use, or checking it with the config)."""
    return load(policy_path(settings))


class PolicyFiles:
    """The policy files one owner (the daemon, the HTTP API) has read, each parsed again
    only when it changed on disk: scores are recomputed every minute, and an edited
    catalogue still takes effect without a restart."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[int, Policy]] = {}

    def policy_for(self, settings: Settings) -> Policy:
        path = policy_path(settings)
        # A file inside an installed package (a zip, say) has no mtime; it never changes.
        changed = path.stat().st_mtime_ns if isinstance(path, Path) else 0
        cached = self._parsed.get(str(path))
        if cached is None or cached[0] != changed:
            cached = self._parsed[str(path)] = (changed, load(path))
        return cached[1]
