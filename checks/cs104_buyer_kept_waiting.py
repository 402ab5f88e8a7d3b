"""CS104 buyer kept waiting for a reply (未及时回复).

What:
    A buyer who writes while the shop is online must get an agent's answer within
    ``within`` of business time after the first unanswered message. Messages of only
    closing words ("好的", "谢谢！") or only emoji need no answer.

Why:
    Policy 2, light violations: "not replying to a customer in time during the shift:
    5 points", and the flow-control tiers "over 1–10 min: 5 points; 11–30 min: 10 points;
    over 30 min: 20 points".

Reading:
    A *waiting episode* starts at a buyer message that is not an offline message (CS102
    owns those: outside coverage or, where presence is reported, while no agent is online)
    and that arrives while the buyer has no open episode; later buyer messages join it; it
    ends at the next agent message to the buyer (auto-replies never count). It is keyed by
    its first message's id. While CS102's offline episode is open, the buyer's messages
    belong to it, even those sent in coverage. A buyer message that is itself offline
    opens (or joins) CS102's episode and so ends the waiting episode: the rest of that wait
    is judged by CS102, never by both rules.
    Exempt: an episode whose every buyer message, trimmed, fully matches one of ``ignore``
    (Unicode NFKC, case-insensitive). An episode of only such messages ends at its own
    deadline, so a question the buyer asks after that starts a new episode with its own
    clock; a question that joins before it makes the episode non-exempt from its start.
    ``D = business_deadline(first.sent_at, within)``; an agent message with
    first.sent_at ≤ sent_at ≤ D answers it in time. Otherwise a violation is recorded once
    the watermarks pass D (tier 1) and escalates in place like CS102's as lateness grows,
    lateness being (the reply, or the offline message that handed the wait to CS102, or
    while neither has come now, but no later than the data is complete) − D in wall time:
    tier 1 ≤ 10 min, tier 2 ≤ 30 min, tier 3 beyond or never answered. It is final once
    the episode has ended or at tier 3, and attributed (SPEC §3 Attribution) at D.

Example timeline (day shift 08:30–17:30, within = 3 min):
    10:00 buyer B: "今天能发货吗？"        → episode m-1, D = 10:03
    10:01 B: "在吗"                       → joins m-1
    10:01 auto-reply                      → does not count
    10:09 agent alice answers B          → 6 min late: tier 1, 5 points, final.
    10:10 B: "好的，谢谢！"               → closing words only: exempt, no subject.
    17:29 B: "还有一个问题"               → episode m-6, D = 08:32 next day (the clock
          pauses overnight); an answer at 17:40 or at 08:32 is in time.

Options:
    within [3m], tier_limits [10m, 30m], tier_points [5, 10, 20], fine [0],
    warn_before [1m] (a 3-minute deadline is at risk from its start: the team lead hears
    only of a buyer about to be late); the top-level ``points`` is unused (the tiers carry
    the points). ignore: regular expressions, by default the closing words 好的, 好, 嗯,
    谢谢, 谢了, 收到, 知道了, ok, okay, thanks, thank you, bye, 拜拜 — one or more, each
    optionally followed by punctuation or emoji — and messages of only punctuation or emoji.

Known limits:
    It reads words, not meaning: a question that happens to be only closing words
    ("好?") is exempt, and a closing remark in other words ("没事了") counts as waiting.
    Images, voice messages and stickers carry no text it can read: a buyer message with no
    text is treated as needing an answer. An answer sent outside the chat (by phone) is
    not seen. Before the chat history start an episode cannot be judged
    (``history_incomplete``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from checks.cs102_offline_message_not_answered_first import episodes as offline_episodes
from checks.escalation import TieredOptions, judge_lateness
from checks.evidence import Evidence
from checks.evidence_record import BreachEvidence, Clock, Fact, MessageRecord, minutes
from checks.rule import Rule, rule_doc
from checks.subject import Outcome, Subject
from checks.text import check_patterns, fully_matches_any
from checks.verdicts import HISTORY_INCOMPLETE
from connectors.model import Message

CODE = "CS104"
PUNCTUATION_OR_EMOJI = (
    "["
    "\\s"
    "!-/:-@\\[-`{-~"  # ASCII punctuation and symbols (full-width forms become these)
    "\u00a1-\u00bf\u00d7\u00f7"  # Latin-1 punctuation and signs: ¡ « » ° ¿ × ÷
    "\u200b-\u200d\u2060\ufeff"  # zero-width spaces and joiners (emoji sequences)
    "\u2010-\u205e"  # general punctuation: dashes, quotes, ‰ ※
    "\u20e3"  # the keycap that makes 1️⃣ of 1
    "\u2190-\u21ff\u2300-\u23ff"  # arrows; technical symbols ⌚ ⏰
    "\u2500-\u27bf"  # box drawing, shapes ■ ●, symbols ☀ ☺ ♥, dingbats ✔ ❤
    "\u2900-\u2bff"  # more arrows and symbols ⤴ ⭐
    "\u3001-\u303f"  # CJK punctuation 、。「」【】〜
    "\ufe00-\ufe0f"  # variation selectors
    "\U0001f000-\U0001faff"  # emoji and pictographs 😊 👍 🙏, skin tones, flags
    "\U000e0020-\U000e007f"  # tag characters of flag sequences
    "]"
)
"""One character of punctuation, whitespace or emoji, as a regex class. Written with the
characters themselves (no ``\\U`` escapes), every one unchanged by NFKC and case-folding, so
the class means the same once the pattern is normalised like the text."""

CLOSING_WORDS = (
    "好的",
    "好",
    "嗯",
    "谢谢",
    "谢了",
    "收到",
    "知道了",
    "okay",
    "ok",
    "thanks",
    "thank\\s*you",
    "bye",
    "拜拜",
)
"""SPEC's closing words, as regex alternatives of the normalised (case-folded) text."""

DEFAULT_IGNORE = (
    f"(?:(?:{'|'.join(CLOSING_WORDS)}){PUNCTUATION_OR_EMOJI}*)+",
    f"{PUNCTUATION_OR_EMOJI}+",
)
"""Closing words, one or more ("好的，谢谢！", "ok thanks 👍"), each optionally followed by
punctuation or emoji; and messages of only punctuation or emoji ("👍", "～～")."""


@dataclass(frozen=True, kw_only=True)
class Options(TieredOptions):
    """CS102's tiers, a shorter allowance, and the messages that need no answer."""

    within: timedelta = timedelta(minutes=3)
    points: int = 5
    warn_before: timedelta = timedelta(minutes=1)
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    """Regular expressions; a buyer message whose whole trimmed text (NFKC, case-folded)
    matches one of them needs no answer."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_patterns(self.ignore)

    def needs_no_answer(self, msg: Message) -> bool:
        return fully_matches_any(msg.text, self.ignore)


@dataclass(frozen=True, kw_only=True)
class WaitingEvidence(BreachEvidence):
    """The episode's buyer messages, how it ended if it has, and how late that was."""

    episode: tuple[MessageRecord, ...] = ()
    reply: MessageRecord | None = None
    handed_over: MessageRecord | None = None
    """The buyer's offline message that opened CS102's episode and ended this one."""
    lateness_seconds: float = 0
    within_seconds: float = 0

    def facts(self, at: Clock) -> list[Fact]:
        found: list[Fact] = []
        if self.episode:
            first = self.episode[0]
            found.append(
                (
                    f"买家消息 {len(self.episode)} 条，首条 {first.id} 于 {at(first.sent_at)}",
                    f"{len(self.episode)} buyer message(s), first {first.id} at "
                    f"{at(first.sent_at)}",
                )
            )
        reply, handed = self.reply, self.handed_over
        if reply is not None:
            found.append(
                (
                    f"回复 {reply.id}（{reply.agent_id}，{at(reply.sent_at)}）",
                    f"answered by {reply.agent_id} at {at(reply.sent_at)} ({reply.id})",
                )
            )
        elif handed is not None:
            found.append(
                (
                    f"{at(handed.sent_at)} 起转为离线留言 {handed.id}（CS102）",
                    f"became offline message {handed.id} at {at(handed.sent_at)} (CS102)",
                )
            )
        else:
            found.append(("尚未回复", "not answered yet"))
        if self.lateness_seconds > 0:
            late = minutes(self.lateness_seconds)
            found.append((f"超时 {late} 分钟", f"{late} min late"))
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingEpisode:
    """A buyer's messages from one that needs an answer up to the end of the wait."""

    messages: tuple[Message, ...]
    reply: Message | None = None
    handed_over: Message | None = None

    @property
    def first(self) -> Message:
        return self.messages[0]

    @property
    def end(self) -> Message | None:
        return self.reply or self.handed_over


def waiting_episodes(
    conversation: list[Message], evidence: Evidence, options: Options
) -> list[WaitingEpisode]:
    """Cut the buyer's conversation into waiting episodes (oldest first), exempt ones left
    out. Messages of CS102's offline episodes are CS102's and never part of one."""
    offline = {m.id for episode in offline_episodes(evidence) for m in episode.messages}
    found: list[WaitingEpisode] = []
    current: list[Message] = []
    exempt_until: datetime | None = None
    """D of the open episode while all its messages need no answer."""

    def close(reply: Message | None = None, handed_over: Message | None = None) -> None:
        if current and exempt_until is None:
            found.append(
                WaitingEpisode(messages=tuple(current), reply=reply, handed_over=handed_over)
            )
        current.clear()

    for msg in conversation:
        if msg.is_agent_message:
            close(reply=msg)
        elif not msg.is_buyer_message:
            continue  # an auto-reply neither answers nor splits
        elif msg.id in offline:
            close(handed_over=msg)
        else:
            if current and exempt_until is not None and msg.sent_at > exempt_until:
                close()  # closing words only, and their deadline passed: nobody waited
            closing = options.needs_no_answer(msg)
            if not current:
                deadline = evidence.calendar.business_deadline(msg.sent_at, options.within)
                exempt_until = deadline if closing else None
            elif not closing:
                exempt_until = None
            current.append(msg)
    close()
    return found


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for episode in waiting_episodes(evidence.conversation(), evidence, options):

        def record(
            ended: bool, lateness: timedelta, episode: WaitingEpisode = episode
        ) -> WaitingEvidence:
            return WaitingEvidence(
                episode=MessageRecord.many(episode.messages),
                reply=MessageRecord.maybe(episode.reply) if ended else None,
                handed_over=MessageRecord.maybe(episode.handed_over) if ended else None,
                lateness_seconds=lateness.total_seconds(),
                within_seconds=options.within.total_seconds(),
            )

        first, end = episode.first, episode.end
        # Satisfied when answered in time, or handed to CS102 before anyone was late.
        outcomes.append(
            judge_lateness(
                Subject(rule=CODE, type="episode", id=first.id, buyer_id=evidence.buyer_id),
                start=first.sent_at,
                end=end.sent_at if end is not None else None,
                evidence=evidence,
                options=options,
                record=record,
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="buyer-kept-waiting",
    name_zh="未及时回复",
    name_en="Buyer kept waiting for a reply",
    subject_type="episode",
    subject_name=("买家消息", "buyer's message"),
    options_type=Options,
    evidence_type=WaitingEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    action=("请尽快回复买家", "answer the buyer now"),
    undecidable_reasons=(HISTORY_INCOMPLETE,),
)
