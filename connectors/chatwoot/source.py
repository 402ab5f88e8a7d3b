"""The Chatwoot chat stream: conversations newest activity first, each read back to ``since``.

Chatwoot's conversation list has no "updated since" filter and no page count, so one call of
:meth:`ChatwootChatSource.fetch_messages` reads one page of conversations (newest activity
first) and, for each conversation active at or after ``since``, its messages from the newest
back to ``since`` (20 per request, with ``before=<id>``). The poll ends at an empty page or at
the first page whose conversations were all last active before ``since``. A conversation that
becomes active while we page moves to the top of the list, which only pushes others to later
pages: a conversation may be read twice, never skipped. Every request is a single attempt; any
failure fails the page, which the poller retries with the same token.

Presence: Chatwoot reports each agent's current status but not since when. ``since`` is the
time of the first fetch that saw the current status; the change happened at some point between
the previous fetch and that one.
"""

from __future__ import annotations

from datetime import datetime

from connectors.chatwoot import normalize
from connectors.chatwoot.client import ChatwootClient
from connectors.chatwoot.normalize import BuyerKey, Conversation
from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse
from connectors.model import AgentPresence, Message, Page, PresenceStatus


def _page_no(token: str | None) -> int:
    if token is None:
        return 1
    if not token.isdigit() or int(token) < 1:
        raise BadResponse("not a token this source issued", field="page_token")
    return int(token)


class ChatwootChatSource:
    """A :class:`connectors.base.ChatSource` over one Chatwoot account."""

    def __init__(
        self,
        *,
        client: ChatwootClient,
        buyer_key: BuyerKey,
        inbox_id: int | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._buyer_key = buyer_key
        self._inbox_id = inbox_id
        self._clock = clock
        self._presence: dict[str, tuple[PresenceStatus, datetime]] = {}

    async def fetch_messages(self, since: datetime, page_token: str | None) -> Page[Message]:
        page = _page_no(page_token)
        body = await self._client.conversations(page=page, inbox_id=self._inbox_id)
        listed = normalize.conversations(body, self._buyer_key)
        active = [
            conversation
            for conversation in listed
            if conversation.last_activity_at is None or conversation.last_activity_at >= since
        ]
        found: dict[str, Message] = {}
        for conversation in active:
            for message in await self._messages_since(conversation, since):
                found[message.id] = message
        items = sorted(found.values(), key=lambda message: (message.sent_at, int(message.id)))
        next_token = str(page + 1) if active else None
        return Page(items=tuple(items), next_page_token=next_token)

    async def _messages_since(self, conversation: Conversation, since: datetime) -> list[Message]:
        found: list[Message] = []
        before: int | None = None
        while True:
            body = await self._client.messages(conversation.id, before=before)
            batch = normalize.messages(body, conversation)
            if not batch:
                return found
            found.extend(m.message for m in batch if m.message and m.sent_at >= since)
            oldest = min(batch, key=lambda listed: listed.id)
            if oldest.sent_at < since:
                return found
            if before is not None and oldest.id >= before:
                # A server ignoring ``before`` would otherwise page forever.
                raise BadResponse(
                    f"before={before} returned message {oldest.id}, not an older one",
                    field=f"conversations[{conversation.id}].payload",
                )
            before = oldest.id

    async def fetch_presence(self) -> list[AgentPresence]:
        now = self._clock()
        statuses = normalize.agent_statuses(await self._client.agents())
        presence = []
        for agent_id, status in statuses:
            known = self._presence.get(agent_id)
            since = known[1] if known is not None and known[0] is status else now
            self._presence[agent_id] = (status, since)
            presence.append(AgentPresence(agent_id=agent_id, status=status, since=since))
        return presence

    async def aclose(self) -> None:
        await self._client.aclose()
