"""The ``[alerts]`` table: where shopwatch sends its own notices, read strictly.

Same conventions as the rest of the config (:mod:`daemon.config.settings`, read with the same
:class:`~daemon.config.toml_table.TomlTable`): unknown keys and bad values are errors naming the
dotted key, durations are written ``"30s"``, and a URL that
carries a secret (a DingTalk ``access_token``, a WeCom ``key``) is never written inline but
read from a file or systemd credential at each send, so rotating it needs no restart.

An empty or missing ``[alerts]`` table means "no notices": shopwatch still exports its
metrics and Prometheus's own rules still fire.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from daemon.config.secrets import resolve_secret_path
from daemon.config.toml_table import (
    ConfigError,
    TomlTable,
    boolean,
    positive_duration,
    text,
    whole_number,
)

WEBHOOK_KINDS = ("json", "dingtalk", "wecom")
ALERTMANAGER = "alertmanager"
"""The receiver under which what Alertmanager was told is remembered (all URLs share it)."""
MAX_RETRIES = 10
MAX_TIMEOUT = timedelta(seconds=60)


@dataclass(frozen=True, kw_only=True)
class WebhookSettings:
    """One direct webhook: a chat robot or any HTTP endpoint taking JSON."""

    name: str
    """The ``receiver`` label of the delivery metrics and the key of what was sent."""
    kind: str
    url_file: Path
    secret_file: Path | None
    timeout: timedelta
    retries: int

    def url(self) -> str:
        return self.url_file.read_text(encoding="utf-8").strip()

    def secret(self) -> str | None:
        if self.secret_file is None:
            return None
        return self.secret_file.read_text(encoding="utf-8").strip() or None


@dataclass(frozen=True, kw_only=True)
class AlertSettings:
    alertmanager_urls: tuple[str, ...] = ()
    alertmanager_timeout: timedelta = timedelta(seconds=5)
    resend_interval: timedelta = timedelta(minutes=1)
    """Alertmanager forgets an alert that is not refreshed; its docs ask for 30 s – 3 min."""
    firing_for: timedelta = timedelta(hours=1)
    """How long a violation stays a firing Alertmanager alert after detection (or after its
    last escalation). A violation is a record, not a condition that clears by itself."""
    warn_at_risk: bool = True
    external_url: str | None = None
    """shopwatch's HTTP address as the team lead reaches it, for links in notices."""
    dashboard_url: str | None = None
    """Where a warning links to (the Customer service dashboard); none if unset."""
    webhooks: tuple[WebhookSettings, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.alertmanager_urls or self.webhooks)

    def secret_files(self) -> list[tuple[str, Path]]:
        """(dotted key, path) of every file the notices need, for ``check-config``."""
        files = []
        for index, hook in enumerate(self.webhooks):
            files.append((f"alerts.webhooks[{index}].url_file", hook.url_file))
            if hook.secret_file is not None:
                files.append((f"alerts.webhooks[{index}].secret_file", hook.secret_file))
        return files


# ---- value converters of this table's own keys ----


def _http_url(value: Any) -> str:
    given = text(value).strip().rstrip("/")
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{given!r} is not an http(s) URL such as http://127.0.0.1:9093")
    return given


def _urls(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError('expected a list, e.g. ["http://127.0.0.1:9093"]')
    if not isinstance(value, list):
        raise TypeError("expected a list of URLs")
    urls = tuple(_http_url(item) for item in value)
    if len(set(urls)) != len(urls):
        raise ValueError("a URL appears twice")
    return urls


def _kind(value: Any) -> str:
    if value not in WEBHOOK_KINDS:
        raise ValueError(f"{value!r} is not one of {', '.join(WEBHOOK_KINDS)}")
    return str(value)


def _name(value: Any) -> str:
    given = text(value)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,48}", given):
        raise ValueError("use letters, digits, '.', '_' or '-' (at most 48)")
    return given


def _timeout(value: Any) -> timedelta:
    result = positive_duration(value)
    if result > MAX_TIMEOUT:
        raise ValueError("at most 60s: a slow receiver must not hold notices back")
    return result


def _retries(value: Any) -> int:
    result = whole_number(value)
    if result > MAX_RETRIES:
        raise ValueError(f"at most {MAX_RETRIES}")
    return result


def _webhook(table: TomlTable, index: int, config_dir: Path) -> WebhookSettings:
    kind = table.get("kind", _kind)
    secret = table.get("secret_file", text, None)
    if secret is not None and kind != "dingtalk":
        raise table.error("secret_file", "only a dingtalk robot signs its requests")
    hook = WebhookSettings(
        name=table.get("name", _name, f"{kind}-{index + 1}"),
        kind=kind,
        url_file=resolve_secret_path(table.get("url_file", text), config_dir),
        secret_file=resolve_secret_path(secret, config_dir) if secret else None,
        timeout=table.get("timeout", _timeout, timedelta(seconds=5)),
        retries=table.get("retries", _retries, 3),
    )
    table.finish()
    return hook


def parse_alerts(raw: Mapping[str, Any], file: str, config_dir: Path) -> AlertSettings:
    """Read the ``[alerts]`` table; raises :class:`ConfigError` naming ``alerts.<key>``."""
    table = TomlTable(raw, "alerts", file)
    defaults = AlertSettings()
    urls = table.get("alertmanager_urls", _urls, ())
    settings = AlertSettings(
        alertmanager_urls=urls,
        alertmanager_timeout=table.get(
            "alertmanager_timeout", _timeout, defaults.alertmanager_timeout
        ),
        resend_interval=table.get("resend_interval", positive_duration, defaults.resend_interval),
        firing_for=table.get("firing_for", positive_duration, defaults.firing_for),
        warn_at_risk=table.get("warn_at_risk", boolean, defaults.warn_at_risk),
        external_url=table.get("external_url", _http_url, None),
        dashboard_url=table.get("dashboard_url", _http_url, None),
        webhooks=tuple(
            _webhook(hook, index, config_dir) for index, hook in enumerate(table.tables("webhooks"))
        ),
    )
    table.finish()
    if settings.resend_interval < timedelta(seconds=1):
        raise ConfigError(file, "alerts.resend_interval", "at least 1s")
    names = [hook.name for hook in settings.webhooks]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(file, "alerts.webhooks", f"webhook name {name!r} appears twice")
        if name == ALERTMANAGER:
            raise ConfigError(file, "alerts.webhooks", f"the name {name!r} is reserved")
    return settings
