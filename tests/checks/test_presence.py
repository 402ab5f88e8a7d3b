"""The presence timeline (SPEC §3 "Presence"): statuses, and where they are known.

Event stream: known below the chat watermark, after the history start, per agent from its
first event. Samples: known between two consecutive samples (the earlier one's status holds
until the later one), an agent a sample omits is not online.
"""

from __future__ import annotations

from datetime import datetime

from checks.presence import KnownSpan, PresenceSource, PresenceTimeline
from connectors.model import AgentPresence, PresenceStatus

from .timeline import MINUTE, at

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE
TICK = at("2026-11-02 10:00:00.000001") - at("2026-11-02 10:00")


def row(agent: str, when: str, status: PresenceStatus) -> AgentPresence:
    return AgentPresence(agent_id=agent, status=status, since=at(f"2026-11-02 {when}"))


def t(when: str) -> datetime:
    return at(f"2026-11-02 {when}")


def events(
    *rows: AgentPresence, start: str = "08:00", watermark: str = "12:00"
) -> PresenceTimeline:
    return PresenceTimeline(
        source=PresenceSource.EVENTS,
        statuses=rows,
        spans=[KnownSpan(start=t(start), end=t(watermark))],
        settled_until=t(watermark),
    )


def samples(
    *rows: AgentPresence, spans: tuple[tuple[str, str], ...], roster: tuple[str, ...] = ()
) -> PresenceTimeline:
    return PresenceTimeline(
        source=PresenceSource.SAMPLES,
        statuses=rows,
        spans=[KnownSpan(start=t(a), end=t(b), end_included=True) for a, b in spans],
        settled_until=t(spans[-1][1]),
        roster=roster,
    )


def test_an_event_says_the_status_from_its_instant_until_the_next() -> None:
    p = events(row("alice", "09:00", ONLINE), row("alice", "10:00", AWAY))
    assert p.status_at("alice", t("09:00") - TICK) is None  # before alice's first event
    assert p.status_at("alice", t("09:00")) is ONLINE
    assert p.status_at("alice", t("10:00") - TICK) is ONLINE
    assert p.status_at("alice", t("10:00")) is AWAY
    assert p.status_at("alice", t("12:00") - TICK) is AWAY
    assert p.status_at("alice", t("12:00")) is None  # the watermark itself is not below it
    assert p.status_at("bob", t("10:00")) is None  # never seen: unknown


def test_with_events_nobody_online_is_known_only_when_every_agent_is() -> None:
    p = events(row("alice", "09:00", OFFLINE), row("bob", "09:30", OFFLINE))
    assert p.online_at(t("09:10")) is None  # bob unknown before his first event
    assert p.online_at(t("09:30")) is False
    assert p.known(t("09:10"), "alice") and not p.known(t("09:10"))
    assert not p.known_throughout(None, t("09:00"), t("09:40"))
    assert p.known_throughout(None, t("09:30"), t("11:59"))
    assert not p.known_throughout(None, t("09:30"), t("12:00"))
    p2 = events(row("alice", "09:00", ONLINE), row("bob", "09:30", OFFLINE))
    assert p2.online_at(t("09:10")) is True  # one known online agent is enough


def test_events_are_unknown_before_the_history_start() -> None:
    p = events(row("alice", "07:00", ONLINE), start="08:00")
    assert p.status_at("alice", t("07:30")) is None
    assert p.status_at("alice", t("08:00")) is ONLINE


def test_samples_hold_until_the_next_and_are_known_between_them() -> None:
    p = samples(
        row("alice", "10:00", ONLINE),
        row("alice", "10:01", AWAY),
        spans=(("10:00", "10:05"), ("10:20", "10:30")),
    )
    assert p.status_at("alice", t("10:00")) is ONLINE
    assert p.status_at("alice", t("10:01") - TICK) is ONLINE
    assert p.status_at("alice", t("10:01")) is AWAY
    assert p.status_at("alice", t("10:05")) is AWAY  # the later sample's instant is known
    assert p.status_at("alice", t("10:05") + TICK) is None  # a gap
    assert p.status_at("alice", t("10:20")) is AWAY
    assert p.status_at("bob", t("10:02")) is OFFLINE  # listed by no sample: not online
    assert p.known_throughout("alice", t("10:00"), t("10:05"))
    assert not p.known_throughout("alice", t("10:00"), t("10:05") + TICK)
    assert p.settled(t("10:30")) and not p.settled(t("10:30") + TICK)


def test_an_agent_a_sample_omits_is_not_online() -> None:
    p = samples(row("alice", "10:00", OFFLINE), spans=(("10:00", "10:10"),), roster=("bob",))
    assert p.status_at("bob", t("10:05")) is OFFLINE
    assert p.online_at(t("10:05")) is False


def test_segments_are_maximal_and_carry_unknown() -> None:
    p = samples(
        row("alice", "10:00", ONLINE),
        row("alice", "10:02", AWAY),
        row("alice", "10:03", ONLINE),
        spans=(("10:00", "10:04"), ("10:06", "10:10")),
    )
    found = [(s.start, s.end, s.status) for s in p.segments("alice", t("10:00"), t("10:10"))]
    assert found == [
        (t("10:00"), t("10:02"), ONLINE),
        (t("10:02"), t("10:03"), AWAY),
        (t("10:03"), t("10:04") + TICK, ONLINE),
        (t("10:04") + TICK, t("10:06"), None),
        (t("10:06"), t("10:10"), ONLINE),
    ]
    team = [(s.start, s.end, s.online) for s in p.team_segments(t("10:00"), t("10:10"))]
    assert team[1] == (t("10:02"), t("10:03"), False)
    assert p.first_online("alice", t("10:02"), t("10:10")) == t("10:03")
    assert p.first_online("alice", t("10:04") + MINUTE, t("10:05")) is None


def test_nothing_is_known_before_the_chat_stream_was_read_or_without_presence() -> None:
    unknown = PresenceTimeline(source=None)
    assert unknown.reported is None and unknown.read_until(t("10:00")) is None
    none = PresenceTimeline(source=PresenceSource.NONE)
    assert none.reported is False and none.online_at(t("10:00")) is None
