"""CS102 offline message not answered first (离线留言未优先回复).

What:
    Messages a buyer left while the shop was offline must be answered first, within
    ``within`` of business time after the first of them.

Why:
    Daily routine step 1: "after logging in, first handle and answer the messages buyers
    left while we were offline". Policy 2 deducts by how late the handling was:
    1–10 min late 5 points, 11–30 min 10 points, over 30 min 20 points.

Reading:
    An *offline message* is a buyer message sent outside coverage or, where the chat
    platform reports agent presence, while no agent was online. An *episode* is a buyer's
    offline messages up to the first agent message to that buyer; it is keyed by its first
    message's id. ``D = business_deadline(first.sent_at, within)``; an agent message with
    first.sent_at ≤ sent_at ≤ D answers it in time. Otherwise the violation is recorded
    once D has passed (tier 1) and escalates in place as lateness grows, where lateness is
    (reply time, or while unanswered now, but no later than the data is complete) − D:
    tier 1 ≤ 10 min, tier 2 ≤ 30 min, tier 3 beyond or never answered. It is final once
    answered or at tier 3.

Example timeline (day shift 08:30–17:30, within = 10 min):
    23:12 buyer B writes "is this in stock?"  → offline, episode m-1, D = 08:40 next day
    23:15 B writes again                     → same episode
    08:49 agent A answers B                  → 9 min late: tier 1, 5 points, final.
    Had nobody answered by 09:10 (30 min late), the record would then have escalated
    to tier 3, 20 points.

Options:
    within [10m], tier_limits [10m, 30m], tier_points [5, 10, 20], fine [0],
    warn_before [15m]; the top-level ``points`` is unused (the tiers carry the points).

Known limits:
    Presence is known only from when the daemon began sampling it; before that,
    offline means outside coverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from checks.escalation import TieredOptions, judge_lateness
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence, Clock, Fact, MessageRecord, minutes
from checks.rule import Rule, rule_doc
from checks.subject import Outcome, Subject
from checks.verdicts import HISTORY_INCOMPLETE
from connectors.model import Message

CODE = "CS102"


@dataclass(frozen=True, kw_only=True)
class Options(TieredOptions):
    within: timedelta = timedelta(minutes=10)
    points: int = 5


@dataclass(frozen=True, kw_only=True)
class OfflineEpisodeEvidence(BreachEvidence):
    """The episode's messages, the reply if there was one by then, and how late it was."""

    episode: tuple[MessageRecord, ...] = ()
    reply: MessageRecord | None = None
    lateness_seconds: float = 0
    within_seconds: float = 0

    def facts(self, at: Clock) -> list[Fact]:
        found: list[Fact] = []
        if self.episode:
            first = self.episode[0]
            found.append(
                (
                    f"离线留言 {len(self.episode)} 条，首条 {first.id} 于 {at(first.sent_at)}",
                    f"{len(self.episode)} offline message(s), first {first.id} at "
                    f"{at(first.sent_at)}",
                )
            )
        reply = self.reply
        if reply is None:
            found.append(("尚未回复", "not answered yet"))
        else:
            found.append(
                (
                    f"回复 {reply.id}（{reply.agent_id}，{at(reply.sent_at)}）",
                    f"answered by {reply.agent_id} at {at(reply.sent_at)} ({reply.id})",
                )
            )
        if self.lateness_seconds > 0:
            late = minutes(self.lateness_seconds)
            found.append((f"超时 {late} 分钟", f"{late} min late"))
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class OfflineEpisode:
    """A buyer's offline messages up to the first agent message to that buyer."""

    messages: tuple[Message, ...]
    reply: Message | None = field(default=None)

    @property
    def first(self) -> Message:
        return self.messages[0]


def is_offline(moment: datetime, evidence: Evidence) -> bool:
    if not evidence.calendar.covered(moment):
        return True
    return evidence.presence.any_online(moment) is False


def episodes(evidence: Evidence) -> list[OfflineEpisode]:
    """The buyer's offline episodes (oldest first), cut once per evidence: CS104 reads them
    too, to leave their messages to this rule."""
    return evidence.derived("cs102.episodes", _cut_episodes)


def _cut_episodes(evidence: Evidence) -> list[OfflineEpisode]:
    conversation = evidence.conversation()
    found: list[OfflineEpisode] = []
    current: list[Message] = []
    for msg in conversation:
        if msg.is_agent_message:
            if current:
                found.append(OfflineEpisode(messages=tuple(current), reply=msg))
                current = []
        elif msg.is_buyer_message and (current or is_offline(msg.sent_at, evidence)):
            current.append(msg)
    if current:
        found.append(OfflineEpisode(messages=tuple(current)))
    return found


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for episode in episodes(evidence):
        reply = episode.reply

        def record(
            answered: bool, lateness: timedelta, episode: OfflineEpisode = episode
        ) -> OfflineEpisodeEvidence:
            return OfflineEpisodeEvidence(
                episode=MessageRecord.many(episode.messages),
                reply=MessageRecord.maybe(episode.reply) if answered else None,
                lateness_seconds=lateness.total_seconds(),
                within_seconds=options.within.total_seconds(),
            )

        first = episode.first
        outcomes.append(
            judge_lateness(
                Subject(rule=CODE, type="episode", id=first.id, buyer_id=evidence.buyer_id),
                start=first.sent_at,
                end=reply.sent_at if reply is not None else None,
                evidence=evidence,
                options=options,
                record=record,
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="offline-message-not-answered-first",
    name_zh="离线留言未优先回复",
    name_en="Offline message not answered first",
    subject_type="episode",
    options_type=Options,
    evidence_type=OfflineEpisodeEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    action=("请优先回复离线留言", "answer the offline message first"),
    undecidable_reasons=(HISTORY_INCOMPLETE,),
)
