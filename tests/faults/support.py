"""A daemon serving its HTTP API on a free loopback port, on SQLite or PostgreSQL, for the
fault and hostile-input tests. Nothing is polled: the sources point at a closed port."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from daemon.app import Daemon
from tests.conftest import FakeClock
from tests.daemon.fakes import settings_for

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Served:
    daemon: Daemon
    base: str
    http: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        *,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """(status, body): the body parsed as strict JSON (NaN or Infinity fail the test)."""
        sent = {**(AUTH if auth else {}), **(headers or {})}
        async with self.http.request(method, self.base + path, headers=sent, **kwargs) as r:
            text = await r.text()
        return r.status, json.loads(text, parse_constant=_refuse_constant) if text else None


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"the API answered invalid JSON: {name}")


@asynccontextmanager
async def served(
    tmp_path: Path,
    clock: FakeClock,
    *,
    database_url: str | None = None,
    extra: str = "",
    **overrides: Any,
) -> AsyncIterator[Served]:
    """``overrides`` replace fields of the settings (e.g. ``read_token_file``)."""
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    settings = replace(settings_for(tmp_path, database_url=url, extra=extra), **overrides)
    daemon = Daemon(settings, clock=clock)
    try:
        await daemon.prepare()
        host, port = await daemon.serve_http()
        async with aiohttp.ClientSession() as http:
            yield Served(daemon, f"http://{host}:{port}", http)
    finally:
        await daemon.stop()
