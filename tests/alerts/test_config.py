"""The ``[alerts]`` table is read as strictly as the rest of the config."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.config.alert_settings import parse_alerts
from daemon.config.settings import ConfigError

from .support import alert_settings

REPO = Path(__file__).resolve().parents[2]
JSON_HOOK = '[[webhooks]]\nkind = "json"\nurl_file = "u"\n'


def test_a_full_table(tmp_path: Path) -> None:
    settings = alert_settings(
        tmp_path,
        """
[alerts]
alertmanager_urls = ["http://127.0.0.1:9093/", "http://10.0.0.2:9093"]
alertmanager_timeout = "3s"
resend_interval = "2m"
firing_for = "30m"
warn_at_risk = false
external_url = "https://shopwatch.example.com"
dashboard_url = "https://grafana.example.com/d/shopwatch-customer-service"

[[alerts.webhooks]]
name = "team-lead"
kind = "dingtalk"
url_file = "secrets/dingtalk-url"
secret_file = "/etc/shopwatch/dingtalk-secret"
timeout = "4s"
retries = 2

[[alerts.webhooks]]
kind = "wecom"
url_file = "wecom-url"
""",
    )
    assert settings.alertmanager_urls == ("http://127.0.0.1:9093", "http://10.0.0.2:9093")
    assert settings.alertmanager_timeout == timedelta(seconds=3)
    assert settings.resend_interval == timedelta(minutes=2)
    assert settings.firing_for == timedelta(minutes=30)
    assert settings.warn_at_risk is False
    assert settings.external_url == "https://shopwatch.example.com"
    dingtalk, wecom = settings.webhooks
    assert (dingtalk.name, dingtalk.kind, dingtalk.retries) == ("team-lead", "dingtalk", 2)
    assert dingtalk.url_file == tmp_path / "secrets/dingtalk-url"
    assert dingtalk.secret_file == Path("/etc/shopwatch/dingtalk-secret")
    assert dingtalk.timeout == timedelta(seconds=4)
    assert (wecom.name, wecom.secret_file, wecom.retries) == ("wecom-2", None, 3)
    assert wecom.timeout == timedelta(seconds=5)
    assert settings.secret_files() == [
        ("alerts.webhooks[0].url_file", tmp_path / "secrets/dingtalk-url"),
        ("alerts.webhooks[0].secret_file", Path("/etc/shopwatch/dingtalk-secret")),
        ("alerts.webhooks[1].url_file", tmp_path / "wecom-url"),
    ]


def test_defaults_and_nothing_configured(tmp_path: Path) -> None:
    settings = parse_alerts({}, "test.toml", tmp_path)
    assert not settings.configured
    assert settings.resend_interval == timedelta(minutes=1)
    assert settings.firing_for == timedelta(hours=1)
    assert settings.warn_at_risk is True


def test_a_bare_secret_name_is_a_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/shopwatch.service")
    settings = alert_settings(
        tmp_path,
        '[[alerts.webhooks]]\nkind = "dingtalk"\nurl_file = "dingtalk-url"\n'
        'secret_file = "dingtalk-secret"\n',
    )
    hook = settings.webhooks[0]
    assert hook.url_file == Path("/run/credentials/shopwatch.service/dingtalk-url")
    assert hook.secret_file == Path("/run/credentials/shopwatch.service/dingtalk-secret")


@pytest.mark.parametrize(
    ("toml", "key", "message"),
    [
        ("bogus = 1", "alerts.bogus", "unknown key"),
        ('alertmanager_urls = "http://a:9093"', "alerts.alertmanager_urls", "expected a list"),
        ('alertmanager_urls = ["ftp://a"]', "alerts.alertmanager_urls", "not an http(s) URL"),
        (
            'alertmanager_urls = ["http://a:9093", "http://a:9093/"]',
            "alerts.alertmanager_urls",
            "appears twice",
        ),
        ('resend_interval = "soon"', "alerts.resend_interval", "not a duration"),
        ('resend_interval = "500ms"', "alerts.resend_interval", "at least 1s"),
        ('firing_for = "0s"', "alerts.firing_for", "longer than 0s"),
        ('warn_at_risk = "yes"', "alerts.warn_at_risk", "true or false"),
        ('external_url = "shopwatch.local"', "alerts.external_url", "not an http(s) URL"),
        ('[[webhooks]]\nkind = "slack"\nurl_file = "u"', "alerts.webhooks[0].kind", "slack"),
        ('[[webhooks]]\nkind = "json"', "alerts.webhooks[0].url_file", "is required"),
        (
            '[[webhooks]]\nkind = "wecom"\nurl_file = "u"\nsecret_file = "s"',
            "alerts.webhooks[0].secret_file",
            "only a dingtalk robot",
        ),
        (JSON_HOOK + "retries = 11", "alerts.webhooks[0].retries", "at most"),
        (JSON_HOOK + "retries = -1", "alerts.webhooks[0].retries", "≥ 0"),
        (JSON_HOOK + 'timeout = "2m"', "alerts.webhooks[0].timeout", "at most 60s"),
        (JSON_HOOK + "mention = true", "alerts.webhooks[0].mention", "unknown key"),
        (JSON_HOOK + 'name = "a b"', "alerts.webhooks[0].name", "letters"),
        (
            '[[webhooks]]\nkind = "json"\nurl_file = "u"\nname = "x"\n'
            '[[webhooks]]\nkind = "wecom"\nurl_file = "v"\nname = "x"',
            "alerts.webhooks",
            "appears twice",
        ),
        (JSON_HOOK + 'name = "alertmanager"', "alerts.webhooks", "reserved"),
        ("webhooks = 1", "alerts.webhooks", "array of tables"),
    ],
)  # fmt: skip
def test_errors_name_the_key(tmp_path: Path, toml: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_alerts(tomllib.loads(toml), "shopwatch.toml", tmp_path)
    assert error.value.key == key
    assert message in error.value.message
    assert str(error.value).startswith("shopwatch.toml: " + key)


def test_the_documented_snippet_is_valid(tmp_path: Path) -> None:
    """docs/monitoring.md shows every key; the snippet must parse as documented."""
    text = (REPO / "docs" / "monitoring.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, re.DOTALL)
    snippet = next(block for block in blocks if "[alerts]" in block)
    data = tomllib.loads(snippet)
    settings = parse_alerts(data["alerts"], "monitoring.md", tmp_path)
    assert settings.alertmanager_urls and {h.kind for h in settings.webhooks} == {
        "json",
        "dingtalk",
        "wecom",
    }
    documented = set(re.findall(r"^#?\s*(\w+)\s*=", snippet, re.MULTILINE))
    assert documented >= {
        "alertmanager_urls",
        "alertmanager_timeout",
        "resend_interval",
        "firing_for",
        "warn_at_risk",
        "external_url",
        "dashboard_url",
        "name",
        "kind",
        "url_file",
        "secret_file",
        "timeout",
        "retries",
    }
