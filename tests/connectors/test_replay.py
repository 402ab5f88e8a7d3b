"""The replay helper fails on any request the recording does not hold, in order."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.connectors.replay import Replay
from tests.connectors.support import FIXTURES

URL = "https://api.example.test/items"


def recording(**request: Any) -> Replay:
    exchange = {
        "note": "the only one",
        "request": {"method": "GET", "url": URL, "params": {"page": "1"}, **request},
        "response": {"status": 200, "headers": {"X-Total": "1"}, "json": [{"id": 1}]},
    }
    return Replay({"exchanges": [exchange]}, fixtures=FIXTURES, name="inline")


async def get(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, **kwargs)


async def test_the_recorded_answer_is_given_to_the_recorded_request() -> None:
    replay = recording()
    with replay.serving():
        response = await get(URL, params={"page": 1})
    replay.assert_finished()
    assert (response.status_code, response.headers["X-Total"], response.json()) == (
        200,
        "1",
        [{"id": 1}],
    )


@pytest.mark.parametrize(
    ("url", "params", "says"),
    [
        (URL + "/2", {"page": 1}, "expected ('GET', 'https://api.example.test/items')"),
        (URL, {"page": 2}, "query {'page': '2'}"),
        (URL, {"page": 1, "extra": "x"}, "query"),
    ],
)
async def test_another_request_fails_naming_the_exchange(
    url: str, params: dict[str, Any], says: str
) -> None:
    with recording().serving(), pytest.raises(AssertionError, match="exchange 1 \\(the only one"):
        try:
            await get(url, params=params)
        except AssertionError as error:
            assert says in str(error)
            raise


async def test_a_recorded_header_must_be_sent() -> None:
    replay = recording(headers={"Authorization": "Bearer t"})
    with replay.serving(), pytest.raises(AssertionError, match="header Authorization"):
        await get(URL, params={"page": 1}, headers={"Authorization": "Bearer u"})


async def test_a_form_field_not_recorded_must_be_named_as_not_checked() -> None:
    def posting(not_checked: list[str]) -> Replay:
        exchange = {
            "request": {"method": "POST", "url": URL, "form": {"method": "list"}},
            "response": {"status": 200, "json": {}},
        }
        return Replay(
            {"exchanges": [exchange], "form_not_checked": not_checked},
            fixtures=FIXTURES,
            name="inline",
        )

    async def post() -> None:
        async with httpx.AsyncClient() as client:
            await client.post(URL, data={"method": "list", "sign": "ABC"})

    with posting([]).serving(), pytest.raises(AssertionError, match=r"\['sign'\]"):
        await post()
    with posting(["sign"]).serving():
        await post()


async def test_requests_past_the_end_and_exchanges_never_asked_for_fail() -> None:
    replay = recording()
    with replay.serving():
        with pytest.raises(AssertionError, match="never asked for; next: GET"):
            replay.assert_finished()
        await get(URL, params={"page": 1})
        with pytest.raises(AssertionError, match="the recording has ended"):
            await get(URL, params={"page": 1})


@pytest.mark.parametrize(
    ("query", "variables", "says"),
    [
        ("query Orders($first: Int!) { x }", {"first": 2}, None),
        ("query Checkouts($first: Int!) { x }", {"first": 2}, "not the Orders document"),
        ("query Orders($first: Int!) { x }", {"first": 3}, "variables {'first': 3}"),
    ],
)
async def test_a_graphql_request_is_checked_by_operation_and_variables(
    query: str, variables: dict[str, Any], says: str | None
) -> None:
    exchange = {
        "request": {
            "method": "POST",
            "url": URL,
            "graphql": {"operation": "Orders", "variables": {"first": 2}},
        },
        "response": {"status": 200, "json": {"data": {}}},
    }
    replay = Replay({"exchanges": [exchange]}, fixtures=FIXTURES, name="inline")

    async def post() -> None:
        async with httpx.AsyncClient() as client:
            await client.post(URL, json={"query": query, "variables": variables})

    with replay.serving():
        if says is None:
            await post()
        else:
            with pytest.raises(AssertionError, match=re.escape(says)):
                await post()
