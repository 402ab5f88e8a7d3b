"""The generic connector's presence (SPEC §5): the ``/presence`` event stream, paged like
messages; 404 means no event stream (the poller then samples ``/agents``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import respx

from connectors.base import PresenceEventSource
from connectors.errors import BadResponse
from connectors.generic.client import GenericShopClient
from connectors.model import PresenceStatus

BASE = "https://shop.test/api"
SINCE = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[GenericShopClient]:
    c = GenericShopClient(base_url=BASE, token=lambda: "s3cret", page_size=2)
    yield c
    await c.aclose()


def event(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "id": "e-1",
        "agent_id": "a1",
        "status": "online",
        "at": "2026-11-02T10:00:00+08:00",
    }
    raw.update(overrides)
    return raw


@respx.mock
async def test_presence_events_are_paged_from_an_inclusive_since(
    client: GenericShopClient,
) -> None:
    assert isinstance(client, PresenceEventSource)
    route = respx.get(f"{BASE}/presence").respond(
        json={"events": [event(), event(id="e-2", status="away")], "next_page_token": "p2"}
    )
    page = await client.fetch_presence_events(SINCE, "p1")
    assert page is not None
    request = route.calls.last.request
    assert request.url.params["since"] == "2026-11-02T02:00:00Z"
    assert request.url.params["limit"] == "2"
    assert request.url.params["page_token"] == "p1"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert page.next_page_token == "p2"
    first, second = page.items
    assert (first.id, first.agent_id, first.status) == ("e-1", "a1", PresenceStatus.ONLINE)
    assert first.at == SINCE and second.status is PresenceStatus.AWAY


@respx.mock
async def test_presence_404_means_no_event_stream_and_is_not_asked_again(
    client: GenericShopClient,
) -> None:
    route = respx.get(f"{BASE}/presence").respond(404)
    assert await client.fetch_presence_events(SINCE, None) is None
    assert await client.fetch_presence_events(SINCE, None) is None
    assert route.call_count == 1


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"status": "busy"}, "events[0].status"),
        ({"at": "2026-11-02 10:00"}, "events[0].at"),
        ({"agent_id": ""}, "events[0].agent_id"),
        ({"id": None}, "events[0].id"),
    ],
)
@respx.mock
async def test_a_bad_event_rejects_the_page_naming_the_field(
    client: GenericShopClient, bad: dict[str, object], field: str
) -> None:
    respx.get(f"{BASE}/presence").respond(json={"events": [event(**bad)], "next_page_token": None})
    with pytest.raises(BadResponse) as rejected:
        await client.fetch_presence_events(SINCE, None)
    assert rejected.value.field == field
