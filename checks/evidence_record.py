"""How a rule writes down its evidence: a typed record, stored as plain JSON beside the ledger.

Every deduction carries the order versions and message ids and times it rests on (SPEC §7).
Each rule declares its own :class:`BreachEvidence` subclass with the facts it rests on and
a :meth:`~BreachEvidence.facts` method that words them in Chinese and English; the ledger
stores :meth:`~BreachEvidence.to_json`, and alerts, the ledger display and the console read
a stored record back with :meth:`~BreachEvidence.from_json` and show
:meth:`~BreachEvidence.summarize`. So what a rule records and how it is told live together,
in the rule's module.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo

from checks.evidence import Watermarks
from connectors.model import Message, Order

SUMMARY_LIMIT = 800
"""A summary is two short lines; the ledger keeps the full record."""


def instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


Clock = Callable[[str | None], str]
"""Words an ISO instant as a local clock time (``10:05``, or ``11-02 10:05`` on another day)."""

Fact = tuple[str, str]
"""One fact, worded in Chinese and in English."""


def local_clock(timezone: ZoneInfo, now: datetime | None) -> Clock:
    def clock(moment: str | None) -> str:
        if moment is None:
            return "?"
        try:
            local = datetime.fromisoformat(moment).astimezone(timezone)
        except (TypeError, ValueError):
            return str(moment)
        if now is not None and now.astimezone(timezone).date() == local.date():
            return local.strftime("%H:%M")
        return local.strftime("%m-%d %H:%M")

    return clock


def minutes(seconds: float) -> int:
    """Whole minutes, rounded up, at least 1: how lateness is told to people."""
    return max(1, math.ceil(seconds / 60))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderVersionRecord:
    updated_at: str | None
    status: str
    paid_at: str | None
    closed_at: str | None
    seller_memo: str | None
    seller_flag: int | None

    @classmethod
    def of(cls, version: Order) -> OrderVersionRecord:
        return cls(
            updated_at=instant(version.updated_at),
            status=version.status.value,
            paid_at=instant(version.paid_at),
            closed_at=instant(version.closed_at),
            seller_memo=version.seller_memo,
            seller_flag=version.seller_flag,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRecord:
    id: str
    direction: str
    agent_id: str | None
    is_auto: bool
    sent_at: str | None

    @classmethod
    def of(cls, msg: Message) -> MessageRecord:
        return cls(
            id=msg.id,
            direction=msg.direction.value,
            agent_id=msg.agent_id,
            is_auto=msg.is_auto,
            sent_at=instant(msg.sent_at),
        )

    @classmethod
    def maybe(cls, msg: Message | None) -> MessageRecord | None:
        return None if msg is None else cls.of(msg)

    @classmethod
    def many(cls, msgs: Iterable[Message]) -> tuple[MessageRecord, ...]:
        return tuple(cls.of(m) for m in msgs)


@dataclass(frozen=True, slots=True, kw_only=True)
class WatermarkRecord:
    orders: str | None
    chat: str | None

    @classmethod
    def of(cls, marks: Watermarks) -> WatermarkRecord:
        return cls(orders=instant(marks.orders.watermark), chat=instant(marks.chat.watermark))


@dataclass(frozen=True, kw_only=True)
class BreachEvidence:
    """What every breach records: its rule's own facts (a subclass's fields), then who last
    wrote to the buyer before the deadline and how far the data was complete.

    Subclasses are frozen keyword-only dataclasses whose fields are JSON values, the records
    above, or tuples/optionals of them, so the JSON round trip is exact."""

    last_agent_message: MessageRecord | None = None
    watermarks: WatermarkRecord | None = None

    SHARED: ClassVar[tuple[str, ...]] = ("last_agent_message", "watermarks")

    def facts(self, at: Clock) -> list[Fact]:
        """The rule's own facts, worded for a team lead; each rule says its own."""
        return []

    def summarize(self, timezone: ZoneInfo, now: datetime | None = None) -> str:
        """Two lines, Chinese then English, with the facts the deduction rests on."""
        at = local_clock(timezone, now)
        facts = [*self.facts(at), self._last_agent_fact(at)]
        text = "；".join(zh for zh, _ in facts) + "\n" + "; ".join(en for _, en in facts)
        return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"

    def _last_agent_fact(self, at: Clock) -> Fact:
        last = self.last_agent_message
        if last is None:
            return "截止前无客服消息", "no agent message before the deadline"
        return (
            f"截止前最后一条客服消息 {last.id}（{last.agent_id}，{at(last.sent_at)}）",
            f"last agent message before the deadline {last.id} by {last.agent_id} "
            f"at {at(last.sent_at)}",
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: the rule's facts first, then the shared ones (tuples become lists)."""
        return _to_json(self)  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The record back from what :meth:`to_json` stored; unknown keys are ignored, so a
        record written by an older version still reads."""
        return _from_json(cls, data)  # type: ignore[no-any-return]


@dataclass(frozen=True, kw_only=True)
class GenericEvidence(BreachEvidence):
    """Evidence of a rule the registry no longer knows, or of a manual entry: kept as it was
    stored, its plain facts named."""

    raw: Mapping[str, Any] = field(default_factory=dict)

    def facts(self, at: Clock) -> list[Fact]:
        return [
            (f"{key}: {value}", f"{key}: {value}")
            for key, value in sorted(self.raw.items())
            if key not in self.SHARED
            and (isinstance(value, str | int | float | bool) or value is None)
        ]

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        shared = _from_json(BreachEvidence, data)
        return cls(
            raw=dict(data),
            last_agent_message=shared.last_agent_message,
            watermarks=shared.watermarks,
        )


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _to_json(value: Any) -> Any:
    kind: type = type(value)
    if kind in _PLAIN:  # most values: checked first, every breach of a back-fill comes here
        return value
    if kind is tuple or kind is list:
        return [_to_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _to_json(getattr(value, name)) for name in _field_names(kind)}
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _from_json(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _from_json(args[0], value) if len(args) == 1 else value
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_from_json(item, v) for v in value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            return None
        hints = typing.get_type_hints(hint)
        values = {}
        for f in dataclasses.fields(hint):
            if f.name in value:
                values[f.name] = _from_json(hints[f.name], value[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                values[f.name] = None  # written by an older version: shown as unknown
        return hint(**values)
    return value


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """A record class's field names, looked up once: every breach of a backfill is written."""
    return tuple(f.name for f in dataclasses.fields(cls))
