"""The policy file: the shipped catalogue is policy 2's tables; mistakes name their key."""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config.settings import ConfigError, Settings
from daemon.scoring.month import Month, NotAMonth
from daemon.scoring.policy import NotInCatalogue, PointsNotAllowed
from daemon.scoring.policy_file import (
    DEFAULT_POLICY,
    PolicyError,
    PolicyFiles,
    load,
    parse,
    policy_path,
    read_policy,
)

from .support import POLICY, TZ, make_settings, settings_text


def test_the_shipped_catalogue_is_policy_2() -> None:
    deductions = POLICY.deductions
    assert [c for c in deductions if c.startswith("M2")] == [f"M2{n:02d}" for n in range(1, 33)]
    late = POLICY.deduction("M204")
    assert (late.zh, late.points_min, late.points_max, late.severity) == ("迟到早退", 2, 5, "light")
    assert POLICY.deduction("M224").points_max == 20
    assert POLICY.deduction("M230").severity == "dismissal"
    assert sorted(POLICY.bonuses) == [f"B20{n}" for n in range(1, 7)]
    assert all(b.points_min == 5 for b in POLICY.bonuses.values())
    counts = {s: sum(d.severity == s for d in deductions.values()) for s in ("light", "moderate")}
    assert counts == {"light": 14, "moderate": 8}


def test_the_shipped_numbers_are_the_sources() -> None:
    assert (POLICY.score.base, POLICY.score.cap, POLICY.score.adjustment_limit) == (80, 110, 5)
    assert (POLICY.pay.per_point, POLICY.pay.limit, POLICY.pay.probation_months) == (10, 300, 2)
    conversion = POLICY.conversion
    assert conversion.window == timedelta(hours=24)
    assert conversion.commission_rate(Decimal("0.69")) == Decimal("0.01")
    assert conversion.commission_rate(Decimal("0.70")) == Decimal("0.015")
    assert [conversion.top_award(n) for n in (1, 2, 3, 7)] == [50, 100, 200, 200]


def test_lookup_by_code() -> None:
    assert POLICY.deduction("M207").en.startswith("away from the post")
    assert POLICY.bonus("B202").per_month == 1
    handover = POLICY.ladder_for("CS108")
    assert handover is not None and handover is POLICY.ladder_for("M401")
    assert POLICY.ladder_for("CS101") is None
    with pytest.raises(NotInCatalogue, match="M999"):
        POLICY.deduction("M999")


def test_points_within_a_range_are_the_supervisors_pick() -> None:
    late = POLICY.deduction("M204")
    assert late.points_for(3) == 3
    with pytest.raises(PointsNotAllowed, match="say how many"):
        late.points_for(None)
    with pytest.raises(PointsNotAllowed, match="2–5"):
        late.points_for(6)
    assert POLICY.deduction("M201").points_for(None) == 2
    with pytest.raises(PointsNotAllowed, match="takes 2 points"):
        POLICY.deduction("M201").points_for(3)


def _shipped() -> dict:  # type: ignore[type-arg]
    return tomllib.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (lambda d: d["deductions"]["M201"].update(pionts=2), "deductions.M201.pionts", "unknown"),
        (lambda d: d["deductions"]["M204"].update(points=[5, 2]), "deductions.M204.points", "min"),
        (lambda d: d["deductions"]["M201"].update(severity="mild"), "severity", "light"),
        (
            lambda d: d["deductions"].update(CS101={"zh": "x", "points": 1, "severity": "light"}),
            "deductions.CS101",
            "automatic rules",
        ),
        (
            lambda d: d["ladders"]["complaint"].update(codes=["M999"]),
            "ladders.complaint.codes",
            "M999",
        ),
        (
            lambda d: d["ladders"]["weekly_summary"].update(codes=["M403"]),
            "ladders.complaint.codes",
            "already on ladder 'weekly_summary'",
        ),
        (
            lambda d: d["score"].update(
                grades=[{"grade": "A", "above": 90}, {"grade": "B", "at_least": 95}]
            ),
            "score.grades",
            "decreasing",
        ),
        (lambda d: d["conversion"].update(window="a day"), "conversion.window", "duration"),
        (lambda d: d["conversion"].update(threshold=70), "conversion.threshold", "fraction"),
        (lambda d: d["duty_escalation"].update(code="M201"), "duty_escalation.code", "derived"),
        (lambda d: d.update(extra={}), "extra", "unknown"),
    ],
)
def test_errors_name_the_key(edit, key: str, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _shipped()
    edit(data)
    with pytest.raises(PolicyError, match=message) as caught:
        parse(data, "policy.toml")
    assert key in str(caught.value)
    assert isinstance(caught.value, ConfigError), "check-config style handling applies"


def test_a_missing_or_broken_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        load(tmp_path / "nope.toml")
    broken = tmp_path / "policy.toml"
    broken.write_text("[score\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load(broken)


def test_an_empty_file_means_the_sources_numbers_and_no_catalogue() -> None:
    policy = parse({}, "empty.toml")
    assert policy.score.grade(90) == "B" and policy.pay.limit == 300
    assert policy.deductions == {} and policy.ladders == ()


def _settings(tmp_path: Path, extra: str = "") -> Settings:
    return make_settings(tmp_path, "sqlite+aiosqlite:///:memory:", extra=extra)


def test_without_the_key_a_policy_file_beside_the_config_wins(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.policy_file is None
    assert policy_path(settings) == DEFAULT_POLICY
    (tmp_path / "policy.toml").write_text("[score]\nbase = 75\n", encoding="utf-8")
    assert policy_path(settings) == tmp_path / "policy.toml"
    assert read_policy(settings).score.base == 75


def test_the_shipped_catalogue_is_package_data() -> None:
    assert files("daemon.scoring") / "policy.toml" == DEFAULT_POLICY
    assert load(DEFAULT_POLICY).deductions == POLICY.deductions


def test_the_config_names_the_policy_file_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "policy.toml").write_text("[score]\nbase = 75\n", encoding="utf-8")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "policy-2027.toml").write_text("[score]\nbase = 70\n", encoding="utf-8")
    settings = _settings(tmp_path, '[scorecard]\npolicy_file = "site/policy-2027.toml"')
    assert settings.policy_file == tmp_path / "site" / "policy-2027.toml"
    assert read_policy(settings).score.base == 70, "the key wins over policy.toml beside"


def test_a_missing_policy_file_names_the_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[scorecard]\npolicy_file = "nope.toml"')
    with pytest.raises(ConfigError, match=r"scorecard\.policy_file: .*nope\.toml: no such file"):
        read_policy(settings)
    with pytest.raises(ConfigError, match=r"scorecard\.policy_file"):
        PolicyFiles().policy_for(settings)


def test_the_scorecard_table_is_read_strictly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scorecard\.policy_fil: unknown key"):
        _settings(tmp_path, '[scorecard]\npolicy_fil = "policy.toml"')


def test_check_config_validates_the_configured_policy_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "shopwatch.toml"
    config.write_text(
        settings_text("sqlite+aiosqlite:///:memory:", extra='[scorecard]\npolicy_file = "p.toml"'),
        encoding="utf-8",
    )
    (tmp_path / "token").write_text("t", encoding="utf-8")
    assert main(["check-config", str(config)]) == 1
    assert "scorecard.policy_file" in capsys.readouterr().err
    (tmp_path / "p.toml").write_text("[score]\nbsae = 80\n", encoding="utf-8")
    assert main(["check-config", str(config)]) == 1
    assert "score.bsae: unknown key" in capsys.readouterr().err
    (tmp_path / "p.toml").write_text("[score]\nbase = 80\n", encoding="utf-8")
    assert main(["check-config", str(config)]) == 0


def test_a_policy_file_is_parsed_again_only_when_it_changed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    file = tmp_path / "policy.toml"
    file.write_text("[score]\nbase = 75\n", encoding="utf-8")
    policies = PolicyFiles()
    first = policies.policy_for(settings)
    assert first.score.base == 75
    assert policies.policy_for(settings) is first
    file.write_text("[score]\nbase = 70\n", encoding="utf-8")
    later = file.stat().st_mtime_ns + 1_000_000_000
    os.utime(file, ns=(later, later))
    assert policies.policy_for(settings).score.base == 70
    assert PolicyFiles().policy_for(settings) is not first, "each owner has its own"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-11-01"])
def test_a_bad_month_says_what_is_expected(text: str) -> None:
    with pytest.raises(NotAMonth, match="expected YYYY-MM"):
        Month.parse(text)


def test_months_are_local_calendar_months() -> None:
    november = Month.parse("2026-11")
    assert str(november.previous()) == "2026-10" and str(november.plus(2)) == "2027-01"
    assert november.start(TZ) == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert november.end(TZ) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert len(november.days()) == 30 and november.days()[0] == date(2026, 11, 1)
    assert Month.of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC), TZ) == Month(2026, 12)
