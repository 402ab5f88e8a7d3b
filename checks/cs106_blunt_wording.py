"""CS106 blunt or rude wording (生硬用语).

What:
    An agent message must not contain blunt or rude wording: one of the ``phrases`` or a
    match of one of the ``patterns``. Each such message is recorded for a supervisor's review.

Why:
    Daily routine step 4: "refusals must be gentle, never blunt" (拒绝要婉转，不能用生硬的语句);
    policy 2: "quarrel with a customer: 20 points".

Reading:
    Subject: an agent message (auto-replies and buyer messages never count) whose text,
    after Unicode NFKC and case-folding, contains one of ``phrases`` as a substring or in
    which one of ``patterns`` (regular expressions) is found. Subject id = the message id;
    ``D = sent_at``; decided once the chat watermark has reached D (pending before). The
    violation is attributed to the message's own ``agent_id`` (not the last writer), in the
    shift D belongs to, and recorded for review: it counts only once a supervisor confirms
    it. Evidence: the message, the phrases and patterns it matched, and up to 3 messages of
    the same conversation before and after it, every text with phone numbers, ID numbers
    and e-mail addresses masked (``138****5678``).

Example timeline (day shift 08:30–17:30):
    10:00 buyer: "能便宜点吗？"
    10:01 auto-reply: "亲，不行哦，我们不议价" (an auto-reply: does not count)
    10:02 agent alice: "不行，爱买不买"        → subject m-3, D = 10:02
    10:03 buyer: "什么态度"
    10:05 the chat watermark passes 10:02 → CS106 violation on m-3, attributed to alice,
          status review, with the buyer's and the auto-reply's messages around it.

Options:
    phrases [不知道, 不清楚, 不行, 没办法, 自己看, 你自己, 爱买不买, 随便你, 听不懂吗, 说了多少遍]
    patterns [], points [5], fine [0].
    within [0m] and warn_before [15m] are unused: a message is judged the moment it is sent.

Known limits:
    It reads words, not tone: sarcasm and rudeness in polite words ("亲，这都看不明白吗？")
    pass unseen, while a phrase quoted or negated ("不是不行") or a listed phrase in a gentle
    sentence ("有不清楚的地方随时问我哦") is found as written, which is why a supervisor
    reviews every one. Images, voice messages, stickers and emoji carry no text it can read. Phrases
    split across messages are not joined. The messages after the judged one are those
    observed when it was decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from checks.agent_message import (
    MessageEvidence,
    QuotedMessage,
    agent_messages,
    message_breach,
    message_subject,
)
from checks.evidence import Evidence
from checks.evidence_record import Clock, Fact
from checks.options import RuleOptions
from checks.rule import Rule, rule_doc
from checks.subject import Outcome, Pending
from checks.text import TextMatcher, check_patterns, normalize
from connectors.model import Message

CODE = "CS106"
CONTEXT = 3
"""Messages of the same conversation kept on each side of the judged one (SPEC)."""

DEFAULT_PHRASES = (
    "不知道",
    "不清楚",
    "不行",
    "没办法",
    "自己看",
    "你自己",
    "爱买不买",
    "随便你",
    "听不懂吗",
    "说了多少遍",
)


@dataclass(frozen=True, kw_only=True)
class Options(RuleOptions):
    within: timedelta = timedelta(0)
    points: int = 5
    phrases: tuple[str, ...] = DEFAULT_PHRASES
    """Blunt words, found as substrings (NFKC, case-insensitive)."""
    patterns: tuple[str, ...] = ()
    """Regular expressions searched anywhere in the text (NFKC, case-insensitive)."""

    def __post_init__(self) -> None:
        if any(not normalize(phrase).strip() for phrase in self.phrases):
            raise ValueError("phrases: a blank phrase would match every message")
        check_patterns(self.patterns)

    def matched(self, text: str) -> tuple[str, ...]:
        """The phrases and patterns (as configured) found in ``text``, in option order."""
        found = [p for p in self.phrases if TextMatcher(phrases=(p,)).first_match(text)]
        found += [p for p in self.patterns if TextMatcher(patterns=(p,)).first_match(text)]
        return tuple(found)


@dataclass(frozen=True, kw_only=True)
class BluntWordingEvidence(MessageEvidence):
    """The message, what it matched, and the conversation around it (texts masked)."""

    matched: tuple[str, ...] = ()
    """The configured phrases and patterns the message matched (never the matched text, so
    a pattern can't copy a customer's data into the record)."""
    before: tuple[QuotedMessage, ...] = ()
    after: tuple[QuotedMessage, ...] = ()

    def facts(self, at: Clock) -> list[Fact]:
        found: list[Fact] = []
        if self.matched:
            words = "」「".join(self.matched)
            found.append((f"生硬用语「{words}」", f"blunt wording “{'”, “'.join(self.matched)}”"))
        if self.message is not None:
            quote = self.message.short_text
            found.append((f"原文「{quote}」", f"text “{quote}”"))
        found.append(
            (
                f"上下文：前 {len(self.before)} 条，后 {len(self.after)} 条",
                f"context: {len(self.before)} message(s) before, {len(self.after)} after",
            )
        )
        return found


def context(msg: Message, conversation: list[Message]) -> tuple[list[Message], list[Message]]:
    """Up to :data:`CONTEXT` messages of ``msg``'s conversation right before and after it."""
    same = [m for m in conversation if m.conversation_id == msg.conversation_id]
    index = next(i for i, m in enumerate(same) if m.id == msg.id)
    return same[max(0, index - CONTEXT) : index], same[index + 1 : index + 1 + CONTEXT]


def evaluate(evidence: Evidence, options: Options) -> list[Outcome]:
    outcomes: list[Outcome] = []
    chat_complete = evidence.watermarks.chat.watermark
    matcher = TextMatcher(phrases=options.phrases, patterns=options.patterns)
    for msg in agent_messages(evidence):
        if matcher.first_match(msg.text) is None:
            continue
        matched = options.matched(msg.text)
        subject = message_subject(CODE, msg, evidence)
        if chat_complete < msg.sent_at:
            outcomes.append(Pending(subject=subject, deadline=msg.sent_at))
            continue
        before, after = context(msg, evidence.conversation())
        outcomes.append(
            message_breach(
                subject,
                msg,
                evidence,
                points=options.points,
                fine=options.fine,
                record=BluntWordingEvidence(
                    matched=matched,
                    before=tuple(QuotedMessage.of(m) for m in before),
                    after=tuple(QuotedMessage.of(m) for m in after),
                ),
            )
        )
    return outcomes


RULE = Rule(
    code=CODE,
    slug="blunt-wording",
    name_zh="生硬用语",
    name_en="Blunt or rude wording",
    subject_type="message",
    options_type=Options,
    evidence_type=BluntWordingEvidence,
    evaluate=evaluate,
    doc=rule_doc(__doc__),
    review=True,
    whole_evidence=False,
    action=("请核实用语，婉转回复买家", "review the wording and answer the buyer gently"),
    undecidable_reasons=(),
)
