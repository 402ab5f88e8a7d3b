"""Chatwoot chat: conversation paging, messages back to ``since``, direction/auto, presence."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from connectors.base import SourceConfig
from connectors.chatwoot import normalize
from connectors.chatwoot import source as source_module
from connectors.chatwoot.client import ChatwootClient
from connectors.chatwoot.normalize import BuyerKey
from connectors.chatwoot.source import ChatwootChatSource
from connectors.errors import AuthFailed, BadResponse, RateLimited
from connectors.model import Direction, Message, PresenceStatus, Stream
from connectors.registry import OptionError, lookup
from daemon.config.toml_table import ConfigError
from tests.connectors.replay import Replay, poll
from tests.connectors.support import FixedClock, load_fixture, read_options, utc

BASE = "https://chat.example.test"
API = f"{BASE}/api/v1/accounts/1"
SINCE = utc("2025-03-01T02:00:00")


def fixture(name: str) -> Any:
    return load_fixture("chatwoot", name)


class FakeChatwoot:
    """Serves the recorded conversations and messages; ``overrides`` replace a body by key."""

    def __init__(self) -> None:
        self.overrides: dict[str, Any] = {}
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/accounts/1")
        params = dict(request.url.params)
        key = path
        if path == "/conversations" and "updated_within" in params:
            key = "conversations_window"
        elif path == "/conversations":
            key = f"conversations_page{params['page']}"
        elif path.endswith("/messages"):
            conversation = path.split("/")[2]
            key = f"messages_{conversation}" + ("_before" if "before" in params else "")
        self.requests.append(f"{key} {sorted(params.items())}")
        if key in self.overrides:
            return httpx.Response(200, json=self.overrides[key])
        if key == "messages_412_before":
            return httpx.Response(200, json={"meta": {}, "payload": []})
        return httpx.Response(200, json=fixture(f"{key.strip('/')}.json"))


@pytest.fixture
def chatwoot() -> Iterator[FakeChatwoot]:
    fake = FakeChatwoot()
    with respx.mock(assert_all_called=False) as router:
        router.route(host="chat.example.test").mock(side_effect=fake)
        yield fake


def make_source(
    buyer_key: BuyerKey = BuyerKey.EMAIL,
    clock: FixedClock | None = None,
    inbox_id: int | None = None,
) -> ChatwootChatSource:
    client = ChatwootClient(base_url=BASE, account_id=1, token=lambda: "cw-token")
    return ChatwootChatSource(
        client=client,
        buyer_key=buyer_key,
        inbox_id=inbox_id,
        clock=clock or FixedClock(utc("2025-03-01T03:00:00")),
    )


async def read_all(source: ChatwootChatSource) -> tuple[dict[str, Message], int]:
    messages: dict[str, Message] = {}
    token: str | None = None
    pages = 0
    while True:
        page = await source.fetch_messages(SINCE, token)
        pages += 1
        messages.update((m.id, m) for m in page.items)
        if page.next_page_token is None:
            return messages, pages
        token = page.next_page_token


async def test_conversations_are_paged_until_a_page_has_no_recent_activity(
    chatwoot: FakeChatwoot,
) -> None:
    _, pages = await read_all(make_source())

    assert pages == 2
    assert chatwoot.requests == [
        "/api []",
        "conversations_page1 [('assignee_type', 'all'), ('page', '1'), ('status', 'all')]",
        "messages_413 []",
        "messages_413_before [('before', '98790')]",
        "messages_412 []",
        "messages_412_before [('before', '98760')]",
        "conversations_page2 [('assignee_type', 'all'), ('page', '2'), ('status', 'all')]",
    ], "conversation 300 was last active before since: its messages are not read"


async def test_messages_are_read_back_to_since_inclusive(chatwoot: FakeChatwoot) -> None:
    messages, _ = await read_all(make_source())

    assert "98701" not in messages, "before since"
    assert messages["98702"].sent_at == SINCE, "exactly at since is included"
    assert sorted(m for m in messages if messages[m].conversation_id == "413") == [
        "98702",
        "98790",
        "98795",
    ]


async def test_direction_agent_and_auto_replies_are_normalized(chatwoot: FakeChatwoot) -> None:
    messages, _ = await read_all(make_source())

    assert "98766" not in messages, "activity entries are not chat"
    assert "98770" not in messages, "a private note never counts as a reply"

    buyer = messages["98765"]
    assert (buyer.direction, buyer.agent_id, buyer.is_auto) == (Direction.BUYER, None, False)
    assert buyer.buyer_id == "ana.li@example.com", "the contact's e-mail, normalized"
    assert buyer.sent_at == utc("2025-03-01T02:15:00")
    assert (buyer.conversation_id, buyer.text) == ("412", "Is the blue one in stock?")

    human = messages["98771"]
    assert (human.direction, human.agent_id, human.is_auto) == (Direction.AGENT, "7", False)
    assert human.is_agent_message

    for auto_id in ("98760", "98767", "98702"):  # template, agent bot, automation (no sender)
        auto = messages[auto_id]
        assert (auto.direction, auto.is_auto) == (Direction.AGENT, True), auto_id
        assert not auto.is_agent_message

    assert messages["98772"].text == "", "an attachment-only message has no content"
    assert messages["98795"].buyer_id == "chatwoot:contact:56", "no e-mail: never pairs"


async def test_failed_automation_and_campaign_messages_never_count_as_a_human_reply(
    chatwoot: FakeChatwoot,
) -> None:
    """Chatwoot's own human_response? test (a user sender, no automation_rule_id, no
    campaign_id) plus delivery: a message whose status is failed never reached the buyer."""
    chatwoot.overrides["conversations_page1"] = fixture("conversations_414.json")
    chatwoot.overrides["conversations_page2"] = {"data": {"meta": {}, "payload": []}}
    chatwoot.overrides["messages_414_before"] = {"meta": {}, "payload": []}

    messages, _ = await read_all(make_source())

    agent_side = {
        m.id: (m.agent_id, m.is_agent_message)
        for m in messages.values()
        if m.direction is Direction.AGENT
    }
    assert agent_side == {
        "98801": ("9", False),  # status failed: WhatsApp refused it
        "98802": (None, False),  # an automation rule's message
        "98803": ("9", True),  # read by the buyer: the one human reply
        "98804": ("9", False),  # a campaign posting as the agent, known from the list
    }


def test_a_campaign_mark_on_the_message_itself_is_read() -> None:
    """Servers that serialise additional_attributes in the messages index."""
    conversation = normalize.Conversation(id="414", buyer_id="b", last_activity_at=None)
    raw = fixture("messages_414.json")["payload"][3]
    (listed,) = normalize.messages({"payload": [raw]}, conversation)
    assert listed.message is not None and listed.message.is_agent_message
    marked = {**raw, "additional_attributes": {"campaign_id": 3}}
    (listed,) = normalize.messages({"payload": [marked]}, conversation)
    assert listed.message is not None and not listed.message.is_agent_message


@pytest.mark.parametrize(
    ("buyer_key", "conversation", "buyer_id"),
    [
        (BuyerKey.PHONE, "413", "tel:8613900000000"),
        (BuyerKey.IDENTIFIER, "412", "7001234567890"),
        (BuyerKey.ID, "412", "chatwoot:contact:55"),
    ],
)
async def test_the_buyer_id_comes_from_the_configured_contact_field(
    chatwoot: FakeChatwoot, buyer_key: BuyerKey, conversation: str, buyer_id: str
) -> None:
    messages, _ = await read_all(make_source(buyer_key))
    assert {m.buyer_id for m in messages.values() if m.conversation_id == conversation} == {
        buyer_id
    }


async def test_an_inbox_filter_is_passed_on(chatwoot: FakeChatwoot) -> None:
    await make_source(inbox_id=3).fetch_messages(SINCE, None)
    assert "('inbox_id', '3')" in chatwoot.requests[1]


async def test_presence_maps_availability_and_keeps_the_first_time_seen(
    chatwoot: FakeChatwoot,
) -> None:
    clock = FixedClock(utc("2025-03-01T03:00:00"))
    source = make_source(clock=clock)

    first = await source.fetch_presence()
    assert [(p.agent_id, p.status, p.since) for p in first] == [
        ("7", PresenceStatus.ONLINE, clock.now),
        ("8", PresenceStatus.AWAY, clock.now),
        ("9", PresenceStatus.OFFLINE, clock.now),
    ]

    clock.now = utc("2025-03-01T03:01:00")
    agents = fixture("agents.json")
    agents[1]["availability_status"] = "online"
    chatwoot.overrides["/agents"] = agents
    second = {p.agent_id: p for p in await source.fetch_presence()}
    assert second["7"].since == utc("2025-03-01T03:00:00"), "unchanged: still the first sighting"
    assert (second["8"].status, second["8"].since) == (PresenceStatus.ONLINE, clock.now)


async def test_rack_attack_429_is_rate_limited() -> None:
    with respx.mock:
        respx.get(f"{BASE}/api").mock(return_value=httpx.Response(200, json=fixture("api.json")))
        respx.get(f"{API}/conversations").mock(
            return_value=httpx.Response(429, text="Retry later\n", headers={"Retry-After": "60"})
        )
        with pytest.raises(RateLimited) as caught:
            await make_source().fetch_messages(SINCE, None)
    assert caught.value.retry_after == 60.0


async def test_a_refused_token_is_auth_failed() -> None:
    with respx.mock:
        respx.get(f"{API}/agents").mock(return_value=httpx.Response(401, json={"errors": []}))
        with pytest.raises(AuthFailed):
            await make_source().fetch_presence()


def drifted_message(change: Callable[[dict[str, Any]], None]) -> Any:
    body = copy.deepcopy(fixture("messages_412.json"))
    change(body["payload"][1])
    return body


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: m.pop("message_type"), "message_type"),
        (lambda m: m.update(message_type=4), "message_type"),
        (lambda m: m.update(private="no"), "private"),
        (lambda m: m.update(sender={"type": "user"}), "sender.id"),
    ],
)
async def test_a_malformed_message_is_refused_alone_keyed_by_its_conversation(
    chatwoot: FakeChatwoot, change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    chatwoot.overrides["messages_412"] = drifted_message(change)
    page = await make_source().fetch_messages(SINCE, None)
    assert "98765" not in {m.id for m in page.items}
    assert {"98771", "98772"} <= {m.id for m in page.items}, "the others are kept"
    (refused,) = page.rejected
    assert refused.field.startswith("conversations[412].payload[1].")
    assert (refused.reason, refused.key) == (reason, "412")
    assert refused.buyer == "ana.li@example.com", "whose evidence lacks it"
    assert "Buyer Wang" not in refused.error and "stock" not in refused.error


@pytest.mark.parametrize(
    ("key", "body", "field"),
    [
        (
            "messages_412",
            drifted_message(lambda m: m.update(created_at=0)),
            "conversations[412].payload[1].created_at",
        ),
        (
            "messages_412",
            drifted_message(lambda m: m.update(created_at="2025-03-01T02:15:00Z")),
            "conversations[412].payload[1].created_at",
        ),
        (
            "messages_412",
            drifted_message(lambda m: m.pop("id")),
            "conversations[412].payload[1].id",
        ),
        (
            "conversations_page1",
            {"data": {"meta": {}, "payload": [{"id": 412, "last_activity_at": 1740795900}]}},
            "data.payload[0].meta",
        ),
        ("conversations_page1", {"payload": []}, "body.data"),
    ],
)
async def test_what_paging_needs_rejects_the_page_naming_the_field(
    chatwoot: FakeChatwoot, key: str, body: Any, field: str
) -> None:
    """A message's id and time steer the paging back; a conversation list that does not
    read is the page's own problem."""
    chatwoot.overrides[key] = body
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_messages(SINCE, None)
    assert caught.value.field == field


async def test_an_unknown_availability_is_drift(chatwoot: FakeChatwoot) -> None:
    agents = fixture("agents.json")
    agents[0]["availability_status"] = "lunch"
    chatwoot.overrides["/agents"] = agents
    with pytest.raises(BadResponse) as caught:
        await make_source().fetch_presence()
    assert caught.value.field == "agents[0].availability_status"


async def test_a_server_ignoring_before_cannot_page_forever(chatwoot: FakeChatwoot) -> None:
    chatwoot.overrides["messages_412_before"] = fixture("messages_412.json")
    with pytest.raises(BadResponse, match="not an older one"):
        await make_source().fetch_messages(SINCE, None)


# ---- server version and updated_within ------------------------------------------------------


def version_body(version: str) -> dict[str, str]:
    return {**fixture("api.json"), "version": version}


async def test_a_chatwoot_older_than_1_21_is_refused_naming_both_versions(
    chatwoot: FakeChatwoot,
) -> None:
    """Before 1.21.0 ``status=all`` is ignored and only open conversations are listed."""
    chatwoot.overrides["/api"] = version_body("1.20.0")
    source = make_source()

    with pytest.raises(BadResponse) as caught:
        await source.fetch_messages(SINCE, None)

    assert caught.value.field == "version"
    assert "Chatwoot 1.20.0 is older than 1.21.0" in str(caught.value)
    assert chatwoot.requests == ["/api []"], "not one conversation read from it"

    chatwoot.overrides["/api"] = version_body("1.21.0")
    await read_all(source)
    assert source.version == (1, 21, 0), "checked again on the next poll: the upgrade is seen"
    assert chatwoot.requests.count("/api []") == 2
    await read_all(source)
    assert chatwoot.requests.count("/api []") == 2, "once passed, not asked again"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"timestamp": "2025-03-01 03:00:00"}, "got None"),
        ({"version": "develop"}, "got 'develop'"),
        ({"version": 4}, "got 4"),
        (["4.1.0"], "got None"),
    ],
)
async def test_a_server_that_does_not_tell_its_version_is_refused(
    chatwoot: FakeChatwoot, body: Any, says: str
) -> None:
    chatwoot.overrides["/api"] = body
    with pytest.raises(BadResponse, match=says) as caught:
        await make_source().fetch_messages(SINCE, None)
    assert caught.value.field == "version"


async def test_no_chatwoot_at_the_base_url_is_refused() -> None:
    with respx.mock:
        respx.get(f"{BASE}/api").mock(return_value=httpx.Response(404, text="Not Found"))
        with pytest.raises(BadResponse, match="check base_url") as caught:
            await make_source().fetch_messages(SINCE, None)
    assert caught.value.field == "version"


async def test_a_newer_chatwoot_is_asked_for_conversations_updated_within_the_span(
    chatwoot: FakeChatwoot,
) -> None:
    walked, _ = await read_all(make_source())
    chatwoot.requests.clear()
    chatwoot.overrides["/api"] = version_body("4.1.0")
    chatwoot.overrides["conversations_window"] = fixture("conversations_page1.json")

    messages, pages = await read_all(make_source())  # the clock is an hour after since

    assert messages == walked, "the same messages as walking every page"
    assert pages == 1
    assert chatwoot.requests[:2] == [
        "/api []",
        "conversations_window "
        "[('assignee_type', 'all'), ('status', 'all'), ('updated_within', '4500')]",
    ], "one hour since the watermark plus 15 minutes for the server's clock"
    assert not any("page" in request for request in chatwoot.requests)


async def test_updated_within_answers_are_served_a_few_conversations_a_page(
    chatwoot: FakeChatwoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_module, "CONVERSATIONS_PER_PAGE", 1)
    chatwoot.overrides["/api"] = version_body("4.1.0")
    chatwoot.overrides["conversations_window"] = fixture("conversations_page1.json")
    source = make_source()

    first = await source.fetch_messages(SINCE, None)
    second = await source.fetch_messages(SINCE, first.next_page_token)

    assert (first.next_page_token, second.next_page_token) == ("w1", None)
    assert {m.conversation_id for m in first.items} == {"413"}
    assert {m.conversation_id for m in second.items} == {"412"}, "300 is not active since"
    assert sum("conversations_window" in r for r in chatwoot.requests) == 1
    with pytest.raises(BadResponse) as caught:
        await source.fetch_messages(utc("2025-03-01T02:30:00"), "w1")
    assert caught.value.field == "page_token", "a window token belongs to its own since"


async def test_a_backfill_longer_than_six_hours_walks_the_pages(chatwoot: FakeChatwoot) -> None:
    chatwoot.overrides["/api"] = version_body("4.1.0")
    await make_source(clock=FixedClock(utc("2025-03-01T08:00:01"))).fetch_messages(SINCE, None)
    assert chatwoot.requests[1].startswith("conversations_page1 ")


async def test_a_list_without_last_activity_at_is_read_by_its_timestamp(
    chatwoot: FakeChatwoot,
) -> None:
    body = copy.deepcopy(fixture("conversations_page1.json"))
    for conversation in body["data"]["payload"]:
        conversation.pop("last_activity_at")
    chatwoot.overrides["conversations_page1"] = body
    chatwoot.overrides["/api"] = version_body("1.21.0")
    messages, _ = await read_all(make_source())
    assert {m.conversation_id for m in messages.values()} == {"412", "413"}


# ---- a recorded conversation ----------------------------------------------------------------


async def test_two_recorded_polls_replay_request_by_request() -> None:
    """``fixtures/chatwoot/replay/two_polls.json``: a backfill walking the list, one page
    throttled and asked again; then a short poll by ``updated_within`` that finds a message
    written before the first poll started but visible only after it."""
    recording = Replay.load("chatwoot", "two_polls")
    clock = FixedClock(utc("2025-03-01T03:00:00"))
    source = make_source(clock=clock)

    with recording.serving():
        first = await poll(source.fetch_messages, utc("2025-02-28T03:00:00"))
        presence = await source.fetch_presence()
        clock.now = utc("2025-03-01T03:01:00")
        second = await poll(source.fetch_messages, utc("2025-03-01T02:59:00"))
        await source.fetch_presence()
    recording.assert_finished()

    assert [m.id for m in first] == ["98790", "98765", "98771", "98795"], "no private note"
    assert [(p.agent_id, p.status) for p in presence] == [
        ("7", PresenceStatus.ONLINE),
        ("8", PresenceStatus.AWAY),
    ]
    (late,) = second
    assert (late.id, late.sent_at) == ("98772", utc("2025-03-01T02:59:30"))
    assert late.sent_at < utc("2025-03-01T03:00:00"), "written before the first poll started"


# ---- options ------------------------------------------------------------------------------


def test_chatwoot_cannot_serve_orders_and_says_what_to_pair_it_with() -> None:
    with pytest.raises(OptionError, match='kind = "shopify"'):
        lookup("chatwoot", Stream.ORDERS)


@pytest.mark.parametrize(
    ("extra", "key", "says"),
    [
        ({"buyer_key": "email"}, "account_id", "/app/accounts/"),
        ({"account_id": "1", "buyer_key": "email"}, "account_id", "whole number"),
        ({"account_id": 1}, "buyer_key", "the same way your order source does"),
        ({"account_id": 1, "buyer_key": "name"}, "buyer_key", '"identifier"'),
        ({"account_id": 1, "buyer_key": "id", "inbox_id": 0}, "inbox_id", "positive"),
    ],
)
def test_bad_options_say_what_to_do(extra: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_options("chatwoot", Stream.CHAT, extra)
    assert caught.value.key == key
    assert says in caught.value.message


async def test_the_registry_builds_a_source_sending_the_access_token() -> None:
    config = SourceConfig(
        kind="chatwoot",
        base_url=BASE + "/",
        token=lambda: "cw-secret",
        timeout=5.0,
        page_size=500,
        options=read_options("chatwoot", Stream.CHAT, {"account_id": 1, "buyer_key": "email"}),
    )
    source = lookup("chatwoot", Stream.CHAT).build(config, Stream.CHAT)
    assert isinstance(source, ChatwootChatSource)
    with respx.mock:
        route = respx.get(f"{API}/agents").mock(return_value=httpx.Response(200, json=[]))
        assert await source.fetch_presence() == []
    assert route.calls.last.request.headers["api_access_token"] == "cw-secret"
    await source.aclose()
