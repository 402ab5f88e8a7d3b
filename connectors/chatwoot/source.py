"""The Chatwoot chat stream: conversations newest activity first, each read back to ``since``.

**Version.** The first fetch asks ``GET /api`` for the server's version and refuses a Chatwoot
older than :data:`MIN_VERSION`: before 1.21.0 the conversation list has no ``status=all``
(chatwoot/chatwoot#3102, merged 2021-09-29, after 1.20.0 shipped) and silently lists only
*open* conversations, so every resolved conversation's replies would be invisible and its
buyers would look unanswered. The refusal is a :class:`~connectors.errors.BadResponse` on
``version``, reported by the poller as a rejected page; the check is repeated on each poll
until the server passes it, so an upgrade is noticed without a restart.

**Conversations.** From :data:`UPDATED_WITHIN_FROM` on, Chatwoot answers ``updated_within=N``
(seconds; chatwoot/chatwoot#8947, opened 2024-02-15, so certainly in 3.7.0) with every
conversation updated in the last N seconds, unpaginated. A poll whose ``since`` is at most
:data:`MAX_UPDATED_WITHIN` ago asks that once (N covers ``since`` plus
:data:`UPDATED_WITHIN_MARGIN` for the server's clock running ahead) and then serves the active
conversations :data:`CONVERSATIONS_PER_PAGE` to a page. A new message touches its conversation
(``belongs_to :conversation, touch: true``), so every conversation with a message since
``since`` is in the answer. Older servers, and longer spans (a backfill), walk the pages instead:
one call of :meth:`ChatwootChatSource.fetch_messages` reads one page of conversations (newest
activity first) and the poll ends at an empty page or at the first page whose conversations
were all last active before ``since``. A conversation that becomes active while we page moves
to the top of the list, which only pushes others to later pages: a conversation may be read
twice, never skipped.

**Messages.** For each conversation active at or after ``since``, its messages from the newest
back to ``since`` (20 per request, with ``before=<id>``). Every request is a single attempt;
any failure fails the page, which the poller retries with the same token. A message whose id
and time read but which fails otherwise (an unknown ``message_type``) is refused alone
(``Page.rejected``, keyed by its conversation) and the others are kept.

Presence: Chatwoot reports each agent's current status but not since when. ``since`` is the
time of the first fetch that saw the current status; the change happened at some point between
the previous fetch and that one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.chatwoot import normalize
from connectors.chatwoot.client import ChatwootClient
from connectors.chatwoot.normalize import BuyerKey, Conversation
from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse
from connectors.model import AgentPresence, Message, Page, PresenceStatus, Rejected

MIN_VERSION = (1, 21, 0)
UPDATED_WITHIN_FROM = (3, 7, 0)
MAX_UPDATED_WITHIN = timedelta(hours=6)
"""A longer span (a backfill) walks the pages: one unpaginated answer would be too large."""
UPDATED_WITHIN_MARGIN = timedelta(minutes=15)
CONVERSATIONS_PER_PAGE = 25
WINDOW = "w"
"""Page tokens of an ``updated_within`` poll: ``w<offset>``; those of a walk: the page number."""


def _dotted(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


def _page_no(token: str | None) -> int:
    if token is None:
        return 1
    if not token.isdigit() or int(token) < 1:
        raise BadResponse("not a token this source issued", field="page_token")
    return int(token)


@dataclass(frozen=True, slots=True)
class _Window:
    since: datetime
    active: tuple[Conversation, ...]


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
        self.version: tuple[int, int, int] | None = None
        """The server's version, once it passed the check."""
        self._window: _Window | None = None

    async def fetch_messages(self, since: datetime, page_token: str | None) -> Page[Message]:
        version = await self._checked_version()
        if page_token is not None and page_token.startswith(WINDOW):
            return await self._window_page(since, page_token)
        if page_token is None and version >= UPDATED_WITHIN_FROM:
            span = self._clock() - since
            if span <= MAX_UPDATED_WITHIN:
                return await self._window_start(since, span)
        page = _page_no(page_token)
        body = await self._client.conversations(page=page, inbox_id=self._inbox_id)
        active = self._active(body, since)
        items, rejected = await self._messages_of(active, since)
        return Page(
            items=items, next_page_token=str(page + 1) if active else None, rejected=rejected
        )

    async def _checked_version(self) -> tuple[int, int, int]:
        if self.version is None:
            version = normalize.server_version(await self._client.server_info())
            if version < MIN_VERSION:
                raise BadResponse(
                    f"Chatwoot {_dotted(version)} is older than {_dotted(MIN_VERSION)}, the "
                    "oldest shopwatch reads: its conversation list cannot list every status "
                    "(status=all), so resolved conversations would be invisible. Upgrade "
                    "Chatwoot; this stream stays stopped until then",
                    field="version",
                )
            self.version = version
        return self.version

    async def _window_start(self, since: datetime, span: timedelta) -> Page[Message]:
        seconds = max(1, math.ceil((span + UPDATED_WITHIN_MARGIN).total_seconds()))
        body = await self._client.conversations(
            page=None, inbox_id=self._inbox_id, updated_within=seconds
        )
        self._window = _Window(since=since, active=tuple(self._active(body, since)))
        return await self._window_page(since, f"{WINDOW}0")

    async def _window_page(self, since: datetime, token: str) -> Page[Message]:
        window, offset = self._window, token.removeprefix(WINDOW)
        if window is None or window.since != since or not offset.isdigit():
            raise BadResponse("not a token this source issued", field="page_token")
        start = int(offset)
        end = start + CONVERSATIONS_PER_PAGE
        items, rejected = await self._messages_of(window.active[start:end], since)
        more = end < len(window.active)
        return Page(
            items=items, next_page_token=f"{WINDOW}{end}" if more else None, rejected=rejected
        )

    def _active(self, body: object, since: datetime) -> list[Conversation]:
        return [
            conversation
            for conversation in normalize.conversations(body, self._buyer_key)
            if conversation.last_activity_at is None or conversation.last_activity_at >= since
        ]

    async def _messages_of(
        self, conversations: Sequence[Conversation], since: datetime
    ) -> tuple[tuple[Message, ...], tuple[Rejected, ...]]:
        """The conversations' messages since ``since``, and those refused one by one."""
        found: dict[str, Message] = {}
        rejected: list[Rejected] = []
        for conversation in conversations:
            for listed in await self._messages_since(conversation, since):
                if listed.message is not None:
                    found[listed.message.id] = listed.message
                elif listed.rejected is not None:
                    rejected.append(listed.rejected)
        messages = tuple(sorted(found.values(), key=lambda m: (m.sent_at, int(m.id))))
        return messages, tuple(rejected)

    async def _messages_since(
        self, conversation: Conversation, since: datetime
    ) -> list[normalize.ListedMessage]:
        found: list[normalize.ListedMessage] = []
        before: int | None = None
        while True:
            body = await self._client.messages(conversation.id, before=before)
            batch = normalize.messages(body, conversation)
            if not batch:
                return found
            found.extend(m for m in batch if m.sent_at >= since)
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
