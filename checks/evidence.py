"""The evidence a rule sees for one buyer, and how complete it is.

The daemon loads a buyer's observed order versions, messages and the shop's agent
presence, and says up to when each stream is complete (the watermark) and since when
history was read at all. Rules never look past these bounds: that is the evidence
principle of SPEC §2.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar, cast

from checks.business_time import BusinessCalendar
from connectors.model import AgentPresence, Direction, Message, Order, PresenceStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamBounds:
    """Data of one stream is complete in ``[history_start, watermark)``."""

    history_start: datetime
    watermark: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Watermarks:
    orders: StreamBounds
    chat: StreamBounds

    @property
    def complete_until(self) -> datetime:
        """Both streams are complete up to here: the bound every decision waits for."""
        return min(self.orders.watermark, self.chat.watermark)

    @property
    def history_start(self) -> datetime:
        """Before this instant at least one stream was never read."""
        return max(self.orders.history_start, self.chat.history_start)


class PresenceHistory:
    """Agents' reported presence over time, as sampled from the chat platform.

    ``any_online(t)`` is ``None`` where presence is unknown (before the first sample), so
    a rule falls back to coverage alone rather than guessing.
    """

    def __init__(self, samples: Sequence[AgentPresence]) -> None:
        by_agent: dict[str, list[AgentPresence]] = {}
        for sample in sorted(samples, key=lambda s: s.since):
            by_agent.setdefault(sample.agent_id, []).append(sample)
        self._by_agent = by_agent
        self._since = {agent: [s.since for s in rows] for agent, rows in by_agent.items()}
        self.known_from = min((s.since for s in samples), default=None)

    def status_at(self, agent: str, t: datetime) -> PresenceStatus | None:
        rows = self._by_agent.get(agent)
        if not rows:
            return None
        i = bisect.bisect_right(self._since[agent], t) - 1
        return rows[i].status if i >= 0 else None

    def any_online(self, t: datetime) -> bool | None:
        if self.known_from is None or t < self.known_from:
            return None
        return any(self.status_at(agent, t) is PresenceStatus.ONLINE for agent in self._by_agent)


NO_PRESENCE = PresenceHistory(())


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Everything observed about one buyer, plus the shop's context.

    ``orders`` holds every observed version of the buyer's orders; ``messages`` the
    buyer's conversation in both directions.
    """

    buyer_id: str
    orders: Sequence[Order]
    messages: Sequence[Message]
    calendar: BusinessCalendar
    watermarks: Watermarks
    now: datetime
    presence: PresenceHistory = NO_PRESENCE
    roster: frozenset[str] = frozenset()
    _derived: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    """Sorted views computed once per evidence: every rule and the attribution read them.
    Callers must not mutate what they get back."""

    def derived(self, key: str, compute: Callable[[Evidence], T]) -> T:
        """``compute(self)`` once per evidence under ``key``: a view several rules read (the
        offline episodes CS102 and CS104 both cut) is worked out once per buyer."""
        if key in self._derived:
            return cast(T, self._derived[key])
        value = compute(self)
        self._derived[key] = value
        return value

    def versions_by_order(self) -> Mapping[str, list[Order]]:
        """Each of this buyer's orders' observed versions, oldest first.

        Versions of another buyer's orders are ignored: a rule speaks of "the same buyer"."""
        cached = self._derived.get("versions_by_order")
        if cached is not None:
            return cast(dict[str, list[Order]], cached)
        grouped: dict[str, list[Order]] = {}
        mine = (o for o in self.orders if o.buyer_id == self.buyer_id)
        for version in sorted(mine, key=lambda o: (o.id, o.updated_at)):
            grouped.setdefault(version.id, []).append(version)
        self._derived["versions_by_order"] = grouped
        return grouped

    def conversation(self) -> list[Message]:
        """The buyer's messages in time order; at one instant a buyer's message comes first,
        so a reply sent in the same second as the question still counts as after it.
        Messages with another buyer are ignored: a rule speaks of "the same buyer"."""
        cached = self._derived.get("conversation")
        if cached is not None:
            return cast(list[Message], cached)
        ordered = sorted(
            (m for m in self.messages if m.buyer_id == self.buyer_id),
            key=lambda m: (m.sent_at, m.direction is not Direction.BUYER, m.id),
        )
        self._derived["conversation"] = ordered
        return ordered
