"""Agents' presence over time, and where it is known (SPEC §3 "Presence").

Presence comes from the chat connector in one of two ways:

- an **event stream** (``/presence``): each event says an agent's status from its instant on.
  Presence is known below the chat watermark and after the stream's history start, and for
  each agent only from that agent's first event (before it, the agent may have been anything);
- **samples** (``/agents``, Chatwoot availability) taken on every chat poll: presence is known
  between two consecutive successful samples no more than ``2 × poll_interval`` apart, and the
  status of the earlier sample holds until the later one. An agent a sample does not list is
  not online.

The daemon reads what was observed and where it is known from its store and hands it over as
a :class:`PresenceTimeline`; rules only ask it questions. Everything is an instant question
(``status_at``, ``online_at``, ``known``) or a piecewise-constant view of an interval
(``segments``, ``team_segments``), so a rule never walks time step by step.

Unknown is not "not yet known": :meth:`PresenceTimeline.settled` says whether presence at an
instant can still change (the next poll may read it), so a rule waits (pending) there and
counts a subject undecidable only where presence is unknown for good.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.model import AgentPresence, PresenceStatus

_TICK = timedelta(microseconds=1)


class PresenceSource(enum.StrEnum):
    """How a shop's chat connector reports presence."""

    EVENTS = "events"
    SAMPLES = "samples"
    NONE = "none"
    """The connector reports no presence: CS109–CS112 have nothing to judge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownSpan:
    """Presence is known from ``start`` to ``end``; ``end`` itself only if ``end_included``
    (a sample's instant is known; the chat watermark is not: data below it is complete)."""

    start: datetime
    end: datetime
    end_included: bool = False

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end or (self.end_included and t == self.end)


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """``[start, end)`` over which an answer does not change; ``None`` = unknown."""

    start: datetime
    end: datetime
    status: PresenceStatus | None

    @property
    def online(self) -> bool | None:
        return None if self.status is None else self.status is PresenceStatus.ONLINE


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamSegment:
    """``[start, end)`` over which "is any agent online?" has one answer (``None``: unknown)."""

    start: datetime
    end: datetime
    online: bool | None


def _merged(spans: Iterable[KnownSpan]) -> list[KnownSpan]:
    merged: list[KnownSpan] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if span.end < span.start:
            continue
        last = merged[-1] if merged else None
        if last is not None and span.start <= last.end:
            if span.end > last.end or (span.end == last.end and span.end_included):
                merged[-1] = KnownSpan(
                    start=last.start, end=span.end, end_included=span.end_included
                )
            continue
        merged.append(span)
    return merged


class PresenceTimeline:
    """Every agent's presence over time and where it is known, for one shop.

    ``statuses`` are the observed changes (an event, or a sampled status, each valid from its
    ``since``), including each agent's last change before the window the daemon read;
    ``spans`` where presence is known; ``settled_until`` how far the connector has read (the
    chat watermark for events, the latest sample for samples); ``roster`` the agents a
    sampled shop is expected to list (an agent a sample omits is not online), and whose
    presence an event stream must have reported before "nobody online" is known.
    """

    def __init__(
        self,
        *,
        source: PresenceSource | None,
        statuses: Sequence[AgentPresence] = (),
        spans: Sequence[KnownSpan] = (),
        settled_until: datetime | None = None,
        roster: Iterable[str] = (),
    ) -> None:
        self.source = source
        self.spans = _merged(spans)
        self._span_starts = [span.start for span in self.spans]
        self.settled_until = settled_until
        by_agent: dict[str, list[AgentPresence]] = {}
        for row in sorted(statuses, key=lambda s: s.since):
            by_agent.setdefault(row.agent_id, []).append(row)
        self._rows = by_agent
        self._since = {agent: [row.since for row in rows] for agent, rows in by_agent.items()}
        self.per_agent = source is PresenceSource.EVENTS
        self.agents: tuple[str, ...] = tuple(sorted(set(by_agent) | set(roster)))
        """Everyone who could be online: the roster, and any agent the platform reported.
        With an event stream a roster agent never seen keeps "nobody online" unknown."""
        self._first = {agent: rows[0].since for agent, rows in by_agent.items()}

    # ---- what the connector says at all ----

    @property
    def reported(self) -> bool | None:
        """Whether the shop's connector reports presence (None: not learnt yet)."""
        return None if self.source is None else self.source is not PresenceSource.NONE

    def settled(self, t: datetime) -> bool:
        """Whether what is known at ``t`` is final: the connector has read past it."""
        if self.settled_until is None:
            return False
        if self.source is PresenceSource.SAMPLES:
            return t <= self.settled_until
        return t < self.settled_until

    def read_until(self, now: datetime) -> datetime | None:
        """Where a rule's view of presence ends: what the connector has read, and not
        beyond ``now``; None before anything was read."""
        if self.settled_until is None:
            return None
        return min(now, self.settled_until)

    # ---- instants ----

    def _in_spans(self, t: datetime) -> bool:
        i = bisect.bisect_right(self._span_starts, t) - 1
        return i >= 0 and self.spans[i].covers(t)

    def known_from(self, agent: str) -> datetime | None:
        """With an event stream, the agent's first event (None: never seen)."""
        return self._first.get(agent)

    def known(self, t: datetime, agent: str | None = None) -> bool:
        """Whether presence is known at ``t``: for ``agent``, or for every agent (all of
        them must be known to say that nobody was online)."""
        if not self._in_spans(t):
            return False
        if not self.per_agent:
            return True
        agents = (agent,) if agent is not None else self.agents
        return all((first := self._first.get(a)) is not None and first <= t for a in agents)

    def _raw_status(self, agent: str, t: datetime) -> PresenceStatus:
        rows = self._rows.get(agent)
        if not rows:
            return PresenceStatus.OFFLINE
        i = bisect.bisect_right(self._since[agent], t) - 1
        return rows[i].status if i >= 0 else PresenceStatus.OFFLINE

    def status_at(self, agent: str, t: datetime) -> PresenceStatus | None:
        """The agent's status at ``t``; None where it is unknown."""
        if not self.known(t, agent):
            return None
        return self._raw_status(agent, t)

    def online_at(self, t: datetime) -> bool | None:
        """Whether any agent is online at ``t``: True as soon as one known agent is; False
        only when every agent is known and none is; None otherwise."""
        if not self._in_spans(t):
            return None
        unknown = False
        for agent in self.agents:
            status = self.status_at(agent, t)
            if status is PresenceStatus.ONLINE:
                return True
            unknown = unknown or status is None
        return None if unknown else False

    def known_throughout(self, agent: str | None, start: datetime, end: datetime) -> bool:
        """Whether presence (of ``agent``, or of everyone) is known at every instant of the
        closed interval ``[start, end]``."""
        if end < start:
            return True
        i = bisect.bisect_right(self._span_starts, start) - 1
        if i < 0 or not self.spans[i].covers(start) or not self.spans[i].covers(end):
            return False
        if not self.per_agent:
            return True
        agents = (agent,) if agent is not None else self.agents
        return all((first := self._first.get(a)) is not None and first <= start for a in agents)

    # ---- intervals ----

    def _boundaries(
        self, agents: Sequence[str], start: datetime, end: datetime
    ) -> Iterator[datetime]:
        """Every instant in ``(start, end)`` where an answer may change."""
        points: set[datetime] = set()
        for span in self.spans:
            points.add(span.start)
            points.add(span.end + _TICK if span.end_included else span.end)
        for agent in agents:
            since = self._since.get(agent, [])
            lo = bisect.bisect_right(since, start)
            hi = bisect.bisect_left(since, end)
            points.update(since[lo:hi])
        return iter(sorted(p for p in points if start < p < end))

    def segments(self, agent: str, start: datetime, end: datetime) -> list[Segment]:
        """The agent's status over ``[start, end)`` as maximal constant pieces."""
        if end <= start:
            return []
        found: list[Segment] = []
        cursor = start
        for point in [*self._boundaries((agent,), start, end), end]:
            status = self.status_at(agent, cursor)
            if found and found[-1].status == status and found[-1].end == cursor:
                found[-1] = Segment(start=found[-1].start, end=point, status=status)
            else:
                found.append(Segment(start=cursor, end=point, status=status))
            cursor = point
        return found

    def team_segments(self, start: datetime, end: datetime) -> list[TeamSegment]:
        """ "Is any agent online?" over ``[start, end)`` as maximal constant pieces."""
        if end <= start:
            return []
        found: list[TeamSegment] = []
        cursor = start
        for point in [*self._boundaries(self.agents, start, end), end]:
            online = self.online_at(cursor)
            if found and found[-1].online == online and found[-1].end == cursor:
                found[-1] = TeamSegment(start=found[-1].start, end=point, online=online)
            else:
                found.append(TeamSegment(start=cursor, end=point, online=online))
            cursor = point
        return found

    def first_online(self, agent: str, start: datetime, end: datetime) -> datetime | None:
        """The earliest instant of ``[start, end)`` at which the agent is known online."""
        for segment in self.segments(agent, start, end):
            if segment.status is PresenceStatus.ONLINE:
                return segment.start
        return None


def runs(
    segments: Sequence[Segment] | Sequence[TeamSegment], wanted: Callable[[bool | None], bool]
) -> list[tuple[datetime, datetime]]:
    """Maximal ``[start, end)`` stretches of adjacent segments whose ``online`` is wanted."""
    found: list[tuple[datetime, datetime]] = []
    for segment in segments:
        if not wanted(segment.online):
            continue
        if found and found[-1][1] == segment.start:
            found[-1] = (found[-1][0], segment.end)
        else:
            found.append((segment.start, segment.end))
    return found


NO_PRESENCE_YET = PresenceTimeline(source=None)
"""Before the chat stream was ever read: nothing known, nothing reported."""
