"""The shop's performance policy: manual catalogue, score and pay numbers, fine ladders.

The rules no API can see (lateness to work, a tidy desk, a quarrel with a buyer…) and the
bonuses of policy 2 live in a TOML file the shop edits, ``config/policy.toml`` by default;
an automatic rule (CS1xx) only contributes its points and fine. The file is read strictly,
like the main config: an unknown key or a bad value is a :class:`PolicyError` that names the
dotted key, so a typo never silently changes anybody's pay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from daemon.config.durations import parse_duration
from daemon.config.settings import ConfigError, Settings
from daemon.config.toml_table import TomlTable, amount, boolean, read_toml

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policy.toml"
POLICY_FILE_NAME = "policy.toml"

SEVERITIES = ("light", "moderate", "severe", "dismissal", "fine")
TOP_BY = ("converted_sales", "conversion_rate")

_CODE = re.compile(r"[A-Z][A-Z0-9_-]{1,15}")
_RULE_CODE = re.compile(r"CS\d{3}")


class PolicyError(ConfigError):
    """A problem in the policy file, naming the file and the dotted key."""


# ---- the policy ----


@dataclass(frozen=True, kw_only=True)
class Deduction:
    """A manual catalogue entry: a violation a supervisor records by hand."""

    code: str
    zh: str
    en: str
    points_min: int
    points_max: int
    severity: str
    fine: Decimal
    compensation: bool
    derived: bool

    def points_for(self, given: int | None) -> int:
        """The points to record: the fixed value, or the supervisor's pick within the range."""
        if given is None:
            if self.points_min != self.points_max:
                raise ValueError(
                    f"{self.code} takes {self.points_min}–{self.points_max} points: say how many"
                )
            return self.points_min
        if not self.points_min <= given <= self.points_max:
            allowed = (
                str(self.points_min)
                if self.points_min == self.points_max
                else f"{self.points_min}–{self.points_max}"
            )
            raise ValueError(f"{self.code} takes {allowed} points, not {given}")
        return given


@dataclass(frozen=True, kw_only=True)
class Bonus:
    """A bonus of policy 2 (+5 items)."""

    code: str
    zh: str
    en: str
    points_min: int
    points_max: int
    per_month: int | None

    def points_for(self, given: int | None) -> int:
        if given is None:
            if self.points_min != self.points_max:
                raise ValueError(
                    f"{self.code} gives {self.points_min}–{self.points_max} points: say how many"
                )
            return self.points_min
        if not self.points_min <= given <= self.points_max:
            raise ValueError(
                f"{self.code} gives {self.points_min}–{self.points_max} points, not {given}"
            )
        return given


@dataclass(frozen=True, kw_only=True)
class LadderStep:
    fine: Decimal
    withhold_pay: bool
    dismissal: bool


@dataclass(frozen=True, kw_only=True)
class Ladder:
    """Fines that grow with each occurrence of its codes per agent and calendar month."""

    name: str
    codes: tuple[str, ...]
    fines: tuple[Decimal, ...]
    growth: Decimal
    withhold_pay_from: int | None
    dismissal_from: int | None

    def step(self, occurrence: int) -> LadderStep:
        """The ``occurrence``-th (1-based) violation of the month."""
        if occurrence < 1:
            raise ValueError("occurrences count from 1")
        if occurrence <= len(self.fines):
            fine = self.fines[occurrence - 1]
        else:
            fine = self.fines[-1] * self.growth ** (occurrence - len(self.fines))
        return LadderStep(
            fine=fine,
            withhold_pay=self.withhold_pay_from is not None
            and occurrence >= self.withhold_pay_from,
            dismissal=self.dismissal_from is not None and occurrence >= self.dismissal_from,
        )


@dataclass(frozen=True, kw_only=True)
class GradeBand:
    grade: str
    threshold: Decimal
    strict: bool
    """True: the score must be above ``threshold``; False: at least ``threshold``."""

    def admits(self, score: Decimal) -> bool:
        return score > self.threshold if self.strict else score >= self.threshold


@dataclass(frozen=True, kw_only=True)
class ScorePolicy:
    base: int = 80
    cap: int = 110
    adjustment_limit: int = 5
    grades: tuple[GradeBand, ...] = (
        GradeBand(grade="A", threshold=Decimal(90), strict=True),
        GradeBand(grade="B", threshold=Decimal(80), strict=False),
        GradeBand(grade="C", threshold=Decimal(70), strict=False),
        GradeBand(grade="D", threshold=Decimal(65), strict=False),
        GradeBand(grade="E", threshold=Decimal(60), strict=False),
    )
    below_grades: str = "F"
    dismissal_below: int = 60
    last_place_below: int = 70
    last_place_months: int = 2
    last_place_only: bool = True
    """True: only the team's last (连续两个月都是最后一名); False: anybody below the line."""

    def grade(self, score: Decimal | int) -> str:
        value = Decimal(score)
        return next((b.grade for b in self.grades if b.admits(value)), self.below_grades)


@dataclass(frozen=True, kw_only=True)
class PayPolicy:
    per_point: Decimal = Decimal(10)
    limit: Decimal = Decimal(300)
    probation_months: int = 2


@dataclass(frozen=True, kw_only=True)
class DutyEscalation:
    code: str
    moderate_codes: int
    light_codes: int


@dataclass(frozen=True, kw_only=True)
class ConversionPolicy:
    window: timedelta = timedelta(hours=24)
    threshold: Decimal = Decimal("0.70")
    rate_below: Decimal = Decimal("0.01")
    rate_at_or_above: Decimal = Decimal("0.015")
    top_by: str = "converted_sales"
    top_awards: tuple[Decimal, ...] = (Decimal(50), Decimal(100), Decimal(200))

    def commission_rate(self, rate: Decimal | None) -> Decimal:
        return (
            self.rate_at_or_above
            if rate is not None and rate >= self.threshold
            else self.rate_below
        )

    def top_award(self, months_in_a_row: int) -> Decimal:
        if months_in_a_row < 1:
            return Decimal(0)
        return self.top_awards[min(months_in_a_row, len(self.top_awards)) - 1]


@dataclass(frozen=True, kw_only=True)
class Policy:
    source: str
    score: ScorePolicy
    pay: PayPolicy
    conversion: ConversionPolicy
    duty_escalation: DutyEscalation | None
    ladders: tuple[Ladder, ...]
    deductions: Mapping[str, Deduction]
    bonuses: Mapping[str, Bonus]

    def deduction(self, code: str) -> Deduction:
        """The catalogue entry for a manual violation code; KeyError names the known ones."""
        try:
            return self.deductions[code]
        except KeyError:
            raise KeyError(f"{code!r} is not in the manual catalogue ({self.source})") from None

    def bonus(self, code: str) -> Bonus:
        try:
            return self.bonuses[code]
        except KeyError:
            raise KeyError(
                f"{code!r} is not a bonus code of the catalogue ({self.source})"
            ) from None

    def ladder_for(self, code: str) -> Ladder | None:
        return next((ladder for ladder in self.ladders if code in ladder.codes), None)

    def severity(self, code: str) -> str | None:
        entry = self.deductions.get(code)
        return entry.severity if entry is not None else None


# ---- reading the file ----


def _table(data: Any, source: str) -> TomlTable:
    return TomlTable(data, "", source, PolicyError)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected a whole number")
    return value


def _count(value: Any) -> int:
    result = _whole(value)
    if result < 1:
        raise ValueError("expected a whole number ≥ 1")
    return result


def _fraction(value: Any) -> Decimal:
    result = amount(value)
    if result > 1:
        raise ValueError("expected a fraction between 0 and 1, e.g. 0.7 for 70 %")
    return result


def _amounts(value: Any) -> tuple[Decimal, ...]:
    if not isinstance(value, list) or not value:
        raise TypeError("expected a non-empty list of numbers")
    return tuple(amount(v) for v in value)


def _points_range(value: Any) -> tuple[int, int]:
    """``5`` or ``[2, 5]``."""
    if isinstance(value, list):
        if len(value) != 2:
            raise ValueError("expected a number of points or a [min, max] range")
        low, high = (_whole(v) for v in value)
    else:
        low = high = _whole(value)
    if low < 0 or high < low:
        raise ValueError("points must be ≥ 0, a range as [min, max] with min ≤ max")
    return low, high


def _code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError("a code is 2–16 capital letters, digits, '_' or '-', e.g. M201")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return str(value)

    return convert


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
        grade = band.get("grade", _text)
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
        base=table.get("base", _whole, defaults.base),
        cap=table.get("cap", _whole, defaults.cap),
        adjustment_limit=table.get("adjustment_limit", _whole, defaults.adjustment_limit),
        grades=_grades(table),
        below_grades=table.get("below_grades", _text, defaults.below_grades),
        dismissal_below=table.get("dismissal_below", _whole, defaults.dismissal_below),
        last_place_below=table.get("last_place_below", _whole, defaults.last_place_below),
        last_place_months=table.get("last_place_months", _count, defaults.last_place_months),
        last_place_only=table.get("last_place_only", boolean, defaults.last_place_only),
    )
    table.finish()
    if score.cap < score.base:
        raise table.error("cap", "the cap must not be below the base score")
    if score.adjustment_limit < 0:
        raise table.error("adjustment_limit", "expected a whole number ≥ 0")
    return score


def _pay(table: TomlTable) -> PayPolicy:
    defaults = PayPolicy()
    pay = PayPolicy(
        per_point=table.get("per_point", amount, defaults.per_point),
        limit=table.get("limit", amount, defaults.limit),
        probation_months=table.get("probation_months", _whole, defaults.probation_months),
    )
    table.finish()
    if pay.probation_months < 0:
        raise table.error("probation_months", "expected a whole number ≥ 0")
    return pay


def _conversion(table: TomlTable) -> ConversionPolicy:
    defaults = ConversionPolicy()

    def window(value: Any) -> timedelta:
        if not isinstance(value, str):
            raise TypeError('expected a duration such as "24h"')
        result = parse_duration(value)
        if result <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return result

    conversion = ConversionPolicy(
        window=table.get("window", window, defaults.window),
        threshold=table.get("threshold", _fraction, defaults.threshold),
        rate_below=table.get("rate_below", _fraction, defaults.rate_below),
        rate_at_or_above=table.get("rate_at_or_above", _fraction, defaults.rate_at_or_above),
        top_by=table.get("top_by", _choice(TOP_BY), defaults.top_by),
        top_awards=table.get("top_awards", _amounts, defaults.top_awards),
    )
    table.finish()
    return conversion


def _ladder(name: str, table: TomlTable) -> Ladder:
    table.get("zh", _text, "")
    codes = table.get("codes", _codes)
    ladder = Ladder(
        name=name,
        codes=codes,
        fines=table.get("fines", _amounts),
        growth=table.get("growth", amount, Decimal(1)),
        withhold_pay_from=table.get("withhold_pay_from", _count, None),
        dismissal_from=table.get("dismissal_from", _count, None),
    )
    table.finish()
    return ladder


def _codes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a non-empty list of rule or catalogue codes")
    return tuple(_code(v) for v in value)


def _deduction(code: str, table: TomlTable) -> Deduction:
    low, high = table.get("points", _points_range)
    entry = Deduction(
        code=code,
        zh=table.get("zh", _text),
        en=table.get("en", _text, ""),
        points_min=low,
        points_max=high,
        severity=table.get("severity", _choice(SEVERITIES)),
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
        zh=table.get("zh", _text),
        en=table.get("en", _text, ""),
        points_min=low,
        points_max=high,
        per_month=table.get("per_month", _count, None),
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


def parse(data: Mapping[str, Any], source: str) -> Policy:
    root = _table(data, source)
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
        source=source,
        score=score,
        pay=pay,
        conversion=conversion,
        duty_escalation=escalation,
        ladders=ladders,
        deductions=deductions,
        bonuses=bonuses,
    )


def _duty_escalation(root: TomlTable, deductions: Mapping[str, Deduction]) -> DutyEscalation | None:
    if "duty_escalation" not in root.data:
        root.used.add("duty_escalation")
        return None
    table = root.table("duty_escalation", required=False)
    escalation = DutyEscalation(
        code=table.get("code", _text),
        moderate_codes=table.get("moderate_codes", _count),
        light_codes=table.get("light_codes", _count),
    )
    table.finish()
    entry = deductions.get(escalation.code)
    if entry is None or not entry.derived:
        raise table.error("code", "must name a deduction with derived = true")
    return escalation


def load(path: str | Path) -> Policy:
    path = Path(path)
    return parse(read_toml(path, PolicyError), str(path))


def policy_file(settings: Settings) -> Path:
    """``policy.toml`` beside the config file if the shop has one, else the shipped default."""
    beside = Path(settings.source).resolve().parent / POLICY_FILE_NAME
    return beside if beside.is_file() else DEFAULT_POLICY_FILE


_LOADED: dict[Path, tuple[int, Policy]] = {}


def policy_for(settings: Settings) -> Policy:
    """The shop's policy, parsed again only when the file changed (scores are recomputed
    every minute; an edited catalogue still takes effect without a restart)."""
    path = policy_file(settings)
    changed = path.stat().st_mtime_ns
    cached = _LOADED.get(path)
    if cached is None or cached[0] != changed:
        cached = _LOADED[path] = (changed, load(path))
    return cached[1]
