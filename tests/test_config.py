"""The config file: strict keys, clear errors, every shipped config valid."""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config.durations import format_duration, parse_duration
from daemon.config.settings import ConfigError, load, parse, resolve_secret_path
from daemon.demo import write_demo_config
from daemon.scoring.policy_file import DEFAULT_POLICY

CONFIG = Path(__file__).resolve().parent.parent / "config"
DAEMON_CONFIGS = sorted(CONFIG.glob("*.toml"))

MINIMAL = """
[[shops]]
id = "s"
[shops.orders]
kind = "generic"
base_url = "http://127.0.0.1:9"
token_file = "token"
[shops.chat]
kind = "generic"
base_url = "http://127.0.0.1:9"
token_file = "token"
"""


def parse_text(text: str, tmp_path: Path = Path("/cfg")) -> object:
    return parse(tomllib.loads(text), "test.toml", tmp_path)


@pytest.mark.parametrize("path", DAEMON_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_a_misspelt_key_exits_1_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (CONFIG / "example.toml").read_text().replace("poll_interval", "pol_interval", 1)
    )
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "shops[0].orders.pol_interval: unknown key" in err


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (MINIMAL + '[rules.CS101]\nwithin = "an hour"', "rules.CS101.within", "not a duration"),
        (MINIMAL + "[rules.CS101]\npoints = -1", "rules.CS101.points", "≥ 0"),
        (MINIMAL + "[rules.CS999]\nenabled = true", "rules.CS999", "unknown key"),
        (MINIMAL + "[rules.CS102]\ntier_points = [5, 10]", "rules.CS102", "one more entry"),
        ('timezone = "Mars/Olympus"' + MINIMAL, "timezone", "IANA"),
        (
            MINIMAL.replace('kind = "generic"', 'kind = "ebay"', 1),
            "shops[0].orders.kind",
            "unknown connector kind",
        ),
        ('[http]\nlisten = "9310"\n' + MINIMAL, "http.listen", "host:port"),
        (
            MINIMAL + '[[agents]]\nid = "a1"\ndays_off = ["someday"]',
            "agents[0].days_off",
            "not a weekday",
        ),
        (
            MINIMAL + '[[shifts]]\nname = "d"\nstart = "8h"\nend = "17:00"',
            "shifts[0].start",
            "time of day",
        ),
        (
            MINIMAL + '[[shifts]]\nname = "d"\nstart = "08:00"\nend = "17:00"\nagents = ["x"]',
            "shifts[0].agents",
            "not in the [[agents]] roster",
        ),
        (
            MINIMAL + '[[holidays]]\ndate = 2026-10-01\nstart = "10:00"',
            "holidays[0].end",
            "both start and end",
        ),
        ("timezone = 'Asia/Shanghai'", "shops", "at least one"),
        (
            MINIMAL + "[[shops]]\nid = 's'\n[shops.orders]\nkind='generic'\nbase_url='x'\n"
            "token_file='t'\n[shops.chat]\nkind='generic'\nbase_url='x'\ntoken_file='t'",
            "shops",
            "appears twice",
        ),
    ],
)
def test_bad_values_name_their_key(text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_text(text)
    assert caught.value.key == key
    assert message in caught.value.message


def test_taobao_cannot_be_a_chat_source_and_the_error_says_what_to_do() -> None:
    text = MINIMAL.rsplit("[shops.chat]", 1)[0] + (
        '[shops.chat]\nkind = "taobao"\nbase_url = "x"\ntoken_file = "t"\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_text(text)
    assert caught.value.key == "shops[0].chat.kind"
    assert "chatwoot" in caught.value.message


def test_defaults_and_conversions() -> None:
    settings = parse_text(
        MINIMAL
        + """
[[agents]]
id = "a1"
hired = 2026-01-15
days_off = ["Sat", "sun", 1]
[[shifts]]
name = "night"
start = "16:00"
end = "24:00"
agents = ["a1"]
[rules.CS101]
within = "1h30m"
fine = 7.5
[rules.CS102]
tier_limits = ["5m", "20m"]
"""
    )
    assert settings.listen == ("127.0.0.1", 9310)  # type: ignore[attr-defined]
    assert str(settings.timezone) == "Asia/Shanghai"  # type: ignore[attr-defined]
    (agent,) = settings.agents  # type: ignore[attr-defined]
    assert agent.days_off == frozenset({5, 6, 0})
    assert settings.shifts[0].end == time(0, 0)  # type: ignore[attr-defined]
    cs101 = settings.rules["CS101"]  # type: ignore[attr-defined]
    assert cs101.within == timedelta(minutes=90) and cs101.fine == Decimal("7.5")
    assert settings.rules["CS102"].tier_limits == (  # type: ignore[attr-defined]
        timedelta(minutes=5),
        timedelta(minutes=20),
    )
    orders = settings.shops[0].orders  # type: ignore[attr-defined]
    assert orders.settle == timedelta(seconds=60) and orders.poll_interval == timedelta(seconds=30)
    assert orders.token_file == Path("/cfg/token")


def test_a_bare_token_name_is_a_systemd_credential(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert resolve_secret_path("shop-token", Path("/etc/shopwatch")) == tmp_path / "shop-token"
    assert resolve_secret_path("tokens/shop", Path("/etc/shopwatch")) == Path(
        "/etc/shopwatch/tokens/shop"
    )
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert resolve_secret_path("shop-token", Path("/etc/x")) == Path("/etc/x/shop-token")


def test_check_config_secrets_flag_reports_unreadable_token_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(MINIMAL)
    assert main(["check-config", "--secrets", str(config)]) == 1
    err = capsys.readouterr().err
    assert "shops.s.orders.token_file" in err
    assert "unreachable" not in err, "a stream whose token is unreadable is not probed"
    (tmp_path / "token").write_text("t")
    # Readable now, so the platform is asked (tests/test_check_config_probe.py): nothing
    # listens on port 9.
    assert main(["check-config", "--secrets", str(config)]) == 1
    assert "shops.s.orders: unreachable: " in capsys.readouterr().err


def test_a_missing_file_and_broken_toml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[shops\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(broken)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("60m", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("500ms", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "m", "1 hour", "-5m", "1h-5m"])
def test_bad_durations_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\."):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("30s", "15m", "1h", "2d", "90s"):
        assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


def test_rules_command_prints_every_rule_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    from checks.registry import RULES

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for rule in RULES:
        assert rule.code in out and rule.doc.splitlines()[0] in out
        assert "Example timeline" in rule.doc and "Why:" in rule.doc


def test_rules_table_command_prints_readme_s_rules_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``shopwatch rules --table`` is how README's table is regenerated: what it prints is
    the table README holds, word for word."""
    from checks.registry import rules_table

    assert main(["rules", "--table"]) == 0
    printed = capsys.readouterr().out
    readme = (CONFIG.parent / "README.md").read_text(encoding="utf-8")
    assert printed == rules_table() and printed in readme


def test_the_evaluation_horizon_covers_the_longest_backfill() -> None:
    settings = parse_text(
        MINIMAL.replace('token_file = "token"', 'token_file = "token"\nbackfill = "7d"', 1)
    )
    assert settings.horizon == timedelta(days=9)  # type: ignore[attr-defined]
    assert parse_text(MINIMAL).horizon == timedelta(days=3)  # type: ignore[attr-defined]


def test_scorecard_command_renders_this_month_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    db = tmp_path / "db.sqlite"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n'
        + MINIMAL
        + '[[agents]]\nid = "a1"\nname = "Li Na"\n'
    )
    assert main(["scorecard", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "a1" in out and "80" in out
    assert (
        main(["scorecard", "--config", str(config), "--month", "2026-11", "--format", "csv"]) == 0
    )
    assert capsys.readouterr().out.splitlines()[1].startswith("2026-11,a1,Li Na,80,B")
    assert main(["scorecard", "--config", str(config), "--month", "November"]) == 1


def test_check_config_also_checks_the_policy_catalogue_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(MINIMAL)
    assert main(["check-config", str(config)]) == 0
    policy = DEFAULT_POLICY.read_text()
    (tmp_path / "policy.toml").write_text(policy.replace("last_place_below =", "last_place_belw ="))
    assert main(["check-config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "policy.toml" in err and "last_place_belw" in err


def test_the_packaged_demo_config_is_valid_wherever_it_is_written(tmp_path: Path) -> None:
    config = write_demo_config(tmp_path / "state")
    settings = load(config)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'state' / 'shopwatch.db'}"
    assert settings.shops[0].orders.token_file == tmp_path / "state" / "shop-token"
