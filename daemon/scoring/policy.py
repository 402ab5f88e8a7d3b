"""The shop's performance policy, as types: manual catalogue, score and pay numbers, fine
ladders, conversion.

The rules no API can see (lateness to work, a tidy desk, a quarrel with a buyer…) and the
bonuses of policy 2 are catalogue entries; an automatic rule (CS1xx) only contributes its
points and fine. The shop writes its policy in a TOML file, read strictly by
:mod:`daemon.scoring.policy_file`. This module is pure: the standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

SEVERITIES = ("light", "moderate", "severe", "dismissal", "fine")
TOP_BY = ("converted_sales", "conversion_rate")


class NotInCatalogue(KeyError):
    """A code the catalogue does not have; the message names the catalogue."""

    def __str__(self) -> str:
        return str(self.args[0])


class PointsNotAllowed(ValueError):
    """Points a supervisor gave (or left out) that the catalogue entry does not allow."""


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
                raise PointsNotAllowed(
                    f"{self.code} takes {self.points_min}–{self.points_max} points: say how many"
                )
            return self.points_min
        if not self.points_min <= given <= self.points_max:
            allowed = (
                str(self.points_min)
                if self.points_min == self.points_max
                else f"{self.points_min}–{self.points_max}"
            )
            raise PointsNotAllowed(f"{self.code} takes {allowed} points, not {given}")
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
                raise PointsNotAllowed(
                    f"{self.code} gives {self.points_min}–{self.points_max} points: say how many"
                )
            return self.points_min
        if not self.points_min <= given <= self.points_max:
            raise PointsNotAllowed(
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
    file: str
    score: ScorePolicy
    pay: PayPolicy
    conversion: ConversionPolicy
    duty_escalation: DutyEscalation | None
    ladders: tuple[Ladder, ...]
    deductions: Mapping[str, Deduction]
    bonuses: Mapping[str, Bonus]

    @property
    def file_name(self) -> str:
        """The catalogue's file name, as a refusal shows it (never the server's full path)."""
        return self.file.replace("\\", "/").rsplit("/", 1)[-1]

    def deduction(self, code: str) -> Deduction:
        """The catalogue entry for a manual violation code."""
        try:
            return self.deductions[code]
        except KeyError:
            raise NotInCatalogue(
                f"{code!r} is not in the manual catalogue ({self.file_name})"
            ) from None

    def bonus(self, code: str) -> Bonus:
        try:
            return self.bonuses[code]
        except KeyError:
            raise NotInCatalogue(
                f"{code!r} is not a bonus code of the catalogue ({self.file_name})"
            ) from None

    def ladder_for(self, code: str) -> Ladder | None:
        return next((ladder for ladder in self.ladders if code in ladder.codes), None)

    def severity(self, code: str) -> str | None:
        entry = self.deductions.get(code)
        return entry.severity if entry is not None else None
