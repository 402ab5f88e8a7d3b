"""Recorded conversations with a platform, replayed request by request.

A recording is a JSON file under ``tests/fixtures/<platform>/replay/``: the requests a connector
makes over one or more polls, each with the answer the platform gave, in order::

    {"about": "what the conversation shows",
     "form_not_checked": ["sign", "timestamp"],
     "exchanges": [
       {"note": "why this request is made and what the answer shows",
        "request": {"method": "GET", "url": "https://shop.example.test/wp-json/wc/v3/orders",
                    "params": {"page": "1"}, "headers": {"Accept": "application/json"}},
        "response": {"status": 200, "headers": {"X-WP-TotalPages": "2"}, "json": [...]}}]}

Each request must be the next one recorded: the same method and URL, exactly the recorded
query ``params``, the recorded ``form`` fields of a form body (any other field must be named in
``form_not_checked``), the recorded ``headers`` (others are not checked) and, for a GraphQL
POST, the recorded ``graphql`` request: the operation its document names (``query
ShopwatchOrders(…``; the documents themselves live with the connector) and exactly the
recorded ``variables``. The answer is
``json``, ``text``, or ``json_file`` (a fixture of the same platform). A test ends with
:meth:`Replay.assert_finished`, so a recording the connector stopped short of fails too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import httpx
import respx

from connectors.errors import Unavailable
from connectors.model import Page
from daemon.watch.poller import RetryPolicy
from tests.connectors.support import FIXTURES

T = TypeVar("T")
Fetch = Callable[[datetime, str | None], Awaitable[Page[T]]]
MAX_RETRIES = 3
MAX_RETRY_AFTER = RetryPolicy().max_retry_after


class Replay:
    def __init__(self, recording: dict[str, Any], *, fixtures: Path, name: str) -> None:
        self.name = name
        self.about = recording.get("about", "")
        self.exchanges: list[dict[str, Any]] = recording["exchanges"]
        self.form_not_checked = set(recording.get("form_not_checked", ()))
        self.fixtures = fixtures
        self.position = 0

    @classmethod
    def load(cls, platform: str, name: str) -> Replay:
        path = FIXTURES / platform / "replay" / f"{name}.json"
        recording = json.loads(path.read_text(encoding="utf-8"))
        return cls(recording, fixtures=FIXTURES / platform, name=f"{platform}/replay/{name}")

    @contextmanager
    def serving(self) -> Iterator[Replay]:
        """Every request of the block is answered by the recording (respx)."""
        with respx.mock(assert_all_called=False) as router:
            router.route().mock(side_effect=self)
            yield self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        asked = f"{request.method} {request.url}"
        if self.position >= len(self.exchanges):
            raise AssertionError(f"{self.name}: the recording has ended, but {asked}")
        exchange = self.exchanges[self.position]
        where = f"{self.name} exchange {self.position + 1} ({exchange.get('note', '')})"
        self._check(exchange["request"], request, where)
        self.position += 1
        return self._answer(exchange["response"])

    def assert_finished(self) -> None:
        left = self.exchanges[self.position :]
        if left:
            following = left[0]["request"]
            raise AssertionError(
                f"{self.name}: {len(left)} recorded exchange(s) never asked for; next: "
                f"{following['method']} {following['url']} ({left[0].get('note', '')})"
            )

    def _check(self, expected: dict[str, Any], request: httpx.Request, where: str) -> None:
        url = str(request.url.copy_with(query=None))
        got = (request.method, url)
        wanted = (expected["method"], expected["url"])
        assert got == wanted, f"{where}: expected {wanted}, got {got}"
        params = dict(request.url.params)
        assert params == expected.get("params", {}), f"{where}: query {params}"
        for name, value in expected.get("headers", {}).items():
            assert request.headers.get(name) == value, f"{where}: header {name}"
        if "graphql" in expected:
            body = json.loads(request.content)
            operation = expected["graphql"]["operation"]
            assert str(body.get("query", "")).startswith(f"query {operation}("), (
                f"{where}: not the {operation} document"
            )
            variables = body.get("variables")
            assert variables == expected["graphql"]["variables"], f"{where}: variables {variables}"
        if "form" in expected:
            form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
            for name, value in expected["form"].items():
                assert form.get(name) == value, f"{where}: form {name}={form.get(name)!r}"
            unlisted = set(form) - set(expected["form"]) - self.form_not_checked
            assert not unlisted, f"{where}: form fields not in the recording: {sorted(unlisted)}"

    def _answer(self, response: dict[str, Any]) -> httpx.Response:
        status, headers = response["status"], response.get("headers", {})
        if "json_file" in response:
            body = json.loads((self.fixtures / response["json_file"]).read_text(encoding="utf-8"))
            return httpx.Response(status, headers=headers, json=body)
        if "json" in response:
            return httpx.Response(status, headers=headers, json=response["json"])
        return httpx.Response(status, headers=headers, text=response.get("text", ""))


async def poll(
    fetch: Fetch[T], since: datetime, *, wait: Callable[[Unavailable], None] = lambda e: None
) -> list[T]:
    """Every page from ``since`` as the poller reads them: a page that fails as unavailable or
    throttled is asked for again with the same token, after ``wait`` (the poller's sleep);
    a pause longer than the poller waits within a poll fails the poll (raised)."""
    items: list[T] = []
    token: str | None = None
    retries = 0
    while True:
        try:
            page = await fetch(since, token)
        except Unavailable as error:
            if error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER:
                raise
            retries += 1
            assert retries <= MAX_RETRIES, f"still failing after {MAX_RETRIES} retries: {error}"
            wait(error)
            continue
        retries = 0
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items
