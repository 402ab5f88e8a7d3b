"""Pure reading of one export file into its declared period and its records.

Two formats, told apart by the file name's suffix:

**JSONL** (``.jsonl``, UTF-8): one JSON object per line, blank lines ignored. The first line is
the header, then one record per line::

    {"covers": {"from": "2026-11-28T00:00:00+08:00", "until": "2026-11-29T00:00:00+08:00"},
     "contains": ["messages", "presence"]}
    {"id": "m1", "conversation_id": "c1", "buyer_id": "b1", "direction": "buyer",
     "agent_id": null, "is_auto": false, "sent_at": "2026-11-28T09:00:05+08:00", "text": "在吗"}
    {"id": "p1", "agent_id": "a1", "status": "online", "at": "2026-11-28T08:29:40+08:00"}

``contains`` (default ``["messages"]``) says what the file holds *all of* for its period. A
record with ``sent_at`` is a message (SPEC §5 Message), one with ``at`` a presence event (SPEC
§5 ``/presence``); their fields are read exactly as the generic connector reads them.

**CSV** (``.csv``): the first line declares the period, the second is the header row, then one
record per row::

    # covers from 2026-11-28T00:00:00+08:00 until 2026-11-29T00:00:00+08:00
    id,conversation_id,buyer_id,direction,agent_id,is_auto,sent_at,text

A CSV file holds messages (its header names ``sent_at``) or presence events (it names ``at``
and ``status``), never both. ``columns`` maps a schema field to another header name; an empty
``agent_id`` is null; ``is_auto`` is ``true``/``false`` (or ``1``/``0``, any case).

Every instant is RFC 3339 with an offset. A file is accepted whole or not at all: any bad line,
a record outside ``[from, until)``, a period that has not ended yet, or a kind of record the
file does not declare rejects the file, naming the line (``chat-1128.jsonl:17.sent_at``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors import wire
from connectors.errors import BadResponse
from connectors.files.coverage import Content, Period
from connectors.generic import normalize as generic
from connectors.model import Message, PresenceEvent, PresenceStatus

MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "buyer_id",
    "direction",
    "agent_id",
    "is_auto",
    "sent_at",
    "text",
)
PRESENCE_FIELDS = ("id", "agent_id", "status", "at")
SCHEMA_FIELDS = frozenset(MESSAGE_FIELDS + PRESENCE_FIELDS)
HEADER_KEYS = ("covers", "contains")
SUFFIXES = (".jsonl", ".csv")
COVERS_LINE = re.compile(r"#\s*covers\s+from\s+(\S+)\s+until\s+(\S+)\s*", re.IGNORECASE)
TRUE, FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """How the shop's CSV files are written."""

    columns: Mapping[str, str] = field(default_factory=dict)
    """A schema field → the header naming it, where the two differ."""
    encoding: str = "utf-8"

    def header_of(self, name: str) -> str:
        return self.columns.get(name, name)


@dataclass(frozen=True, slots=True)
class Header:
    """What a file declares: the period it covers and what it holds all of for that period."""

    period: Period
    contains: frozenset[Content]


@dataclass(frozen=True, slots=True)
class Export:
    name: str
    header: Header
    messages: tuple[Message, ...]
    presence: tuple[PresenceEvent, ...]


def is_export(name: str) -> bool:
    """Whether a file name is one this kind reads (hidden files are being written)."""
    return not name.startswith(".") and name.lower().endswith(SUFFIXES)


def parse(
    name: str, data: bytes, *, csv_format: CsvFormat, now: datetime, presence: bool
) -> Export:
    """The whole file, checked; ``presence`` says whether this stream imports presence."""
    if name.lower().endswith(".csv"):
        header, messages, events = _read_csv(name, data, csv_format)
    else:
        header, messages, events = _read_jsonl(name, data)
    if header.period.end > now:
        raise BadResponse(
            f"the period {header.period} has not ended yet (now {now.isoformat()}): a file "
            "can declare only a period that is over",
            field=f"{name}:1.covers",
        )
    if Content.PRESENCE in header.contains and not presence:
        raise BadResponse(
            "the file holds presence, which this stream does not import: set presence = true "
            "in its config, or leave presence out of the export",
            field=f"{name}:1.contains",
        )
    return Export(name=name, header=header, messages=messages, presence=events)


def parse_head(name: str, head: bytes, *, complete: bool, csv_format: CsvFormat) -> Header:
    """The header of a file from its first bytes (``complete``: they are the whole file)."""
    if name.lower().endswith(".csv"):
        lines = _text(name, head, csv_format.encoding).splitlines(keepends=True)[:2]
        if (len(lines) < 2 and not complete) or (lines and not _ended(lines[-1], complete)):
            raise BadResponse("header lines longer than expected", field=f"{name}:1")
        names = next(csv.reader(lines[1:]), []) if len(lines) > 1 else []
        return _csv_header(name, lines[0] if lines else "", [n.strip() for n in names], csv_format)
    for lineno, line in enumerate(_text(name, head, "utf-8").splitlines(keepends=True), 1):
        if line.strip():
            if not _ended(line, complete):
                raise BadResponse("header line longer than expected", field=f"{name}:{lineno}")
            return _jsonl_header(_json_line(line, f"{name}:{lineno}"), f"{name}:{lineno}")
    raise BadResponse("the file is empty: expected the header line", field=f"{name}:1")


def _ended(line: str, complete: bool) -> bool:
    return complete or line.endswith(("\n", "\r"))


# ---- JSONL ------------------------------------------------------------------------------


def _read_jsonl(
    name: str, data: bytes
) -> tuple[Header, tuple[Message, ...], tuple[PresenceEvent, ...]]:
    header: Header | None = None
    records = _Records(name)
    for lineno, line in enumerate(_text(name, data, "utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        raw = _json_line(line, where)
        if header is None:
            header = _jsonl_header(raw, where)
            continue
        has_time, has_at = _has(raw, "sent_at"), _has(raw, "at")
        if has_time == has_at:
            raise BadResponse(
                "a record has either sent_at (a message) or at (a presence event)", field=where
            )
        if has_time:
            records.message(generic.message(raw, where), header, where)
        else:
            records.presence(_presence_event(raw, where), header, where)
    if header is None:
        raise BadResponse("the file is empty: expected the header line", field=f"{name}:1")
    return header, records.messages(), records.events()


def _has(raw: Any, key: str) -> bool:
    return isinstance(raw, Mapping) and key in raw


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise BadResponse(f"not JSON ({exc})", field=where) from None


def _jsonl_header(raw: Any, where: str) -> Header:
    if not isinstance(raw, Mapping) or "covers" not in raw:
        raise BadResponse(
            'the first line must be the header {"covers": {"from": …, "until": …}}', field=where
        )
    for key in raw:
        if key not in HEADER_KEYS:
            raise BadResponse(
                f"unknown header key (known: {', '.join(HEADER_KEYS)})", field=f"{where}.{key}"
            )
    covers = wire.field(raw, "covers", where)
    period = _period(
        wire.instant(covers, "from", f"{where}.covers"),
        wire.instant(covers, "until", f"{where}.covers"),
        f"{where}.covers",
    )
    contains = raw.get("contains", [Content.MESSAGES.value])
    names = ", ".join(c.value for c in Content)
    if not isinstance(contains, list) or not contains:
        raise BadResponse(f"expected a non-empty list of {names}", field=f"{where}.contains")
    declared = set()
    for value in contains:
        if value not in {c.value for c in Content} or Content(value) in declared:
            raise BadResponse(
                f"{value!r}: expected each of {names} once", field=f"{where}.contains"
            )
        declared.add(Content(value))
    return Header(period=period, contains=frozenset(declared))


def _period(start: datetime, end: datetime, where: str) -> Period:
    if start >= end:
        raise BadResponse("from must come before until", field=where)
    return Period(start, end)


def _presence_event(raw: Any, where: str) -> PresenceEvent:
    return PresenceEvent(
        id=wire.identifier(raw, "id", where),
        agent_id=wire.identifier(raw, "agent_id", where),
        status=wire.choice(raw, "status", where, PresenceStatus),
        at=wire.instant(raw, "at", where),
    )


# ---- CSV --------------------------------------------------------------------------------


def _read_csv(
    name: str, data: bytes, csv_format: CsvFormat
) -> tuple[Header, tuple[Message, ...], tuple[PresenceEvent, ...]]:
    first, _, rest = _text(name, data, csv_format.encoding).partition("\n")
    reader = csv.reader(io.StringIO(rest, newline=""))
    names = [n.strip() for n in next(reader, [])]
    header = _csv_header(name, first, names, csv_format)
    is_messages = Content.MESSAGES in header.contains
    index = {}
    for f in MESSAGE_FIELDS if is_messages else PRESENCE_FIELDS:
        column = csv_format.header_of(f)
        if column not in names:
            raise BadResponse(f"the header row has no column {column!r}", field=f"{name}:2")
        index[f] = names.index(column)
    records = _Records(name)
    for row in reader:
        where = f"{name}:{reader.line_num + 1}"
        if not row:
            continue
        if len(row) != len(names):
            raise BadResponse(f"expected {len(names)} fields, got {len(row)}", field=where)
        raw: dict[str, Any] = {f: row[i] for f, i in index.items()}
        if is_messages:
            raw["agent_id"] = raw["agent_id"].strip() or None
            raw["is_auto"] = _flag(raw["is_auto"], f"{where}.is_auto")
            records.message(generic.message(raw, where), header, where)
        else:
            records.presence(_presence_event(raw, where), header, where)
    return header, records.messages(), records.events()


def _csv_header(name: str, first: str, names: list[str], csv_format: CsvFormat) -> Header:
    """The period line and the header row, which tells a messages file from a presence file."""
    match = COVERS_LINE.fullmatch(first.strip())
    if match is None:
        raise BadResponse(
            "the first line must be '# covers from <RFC 3339> until <RFC 3339>'",
            field=f"{name}:1",
        )
    where = f"{name}:1.covers"
    period = _period(
        wire.parse_instant(match.group(1), f"{where}.from"),
        wire.parse_instant(match.group(2), f"{where}.until"),
        where,
    )
    if csv_format.header_of("sent_at") in names:
        content = Content.MESSAGES
    elif csv_format.header_of("at") in names and csv_format.header_of("status") in names:
        content = Content.PRESENCE
    else:
        raise BadResponse(
            "the header row names neither sent_at (a messages file) nor at and status "
            "(a presence file)",
            field=f"{name}:2",
        )
    return Header(period=period, contains=frozenset({content}))


def _flag(value: str, where: str) -> bool:
    folded = value.strip().lower()
    if folded in TRUE:
        return True
    if folded in FALSE:
        return False
    raise BadResponse(f"expected true or false, got {value!r}", field=where)


# ---- shared -----------------------------------------------------------------------------


def _text(name: str, data: bytes, encoding: str) -> str:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise BadResponse(
            f"not {encoding} text (byte {exc.start}): export as UTF-8, or set csv_encoding",
            field=name,
        ) from None


class _Records:
    """The records of one file: inside its period, of a kind it declares, ids unique."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._messages: dict[str, Message] = {}
        self._events: dict[str, PresenceEvent] = {}

    def message(self, message: Message, header: Header, where: str) -> None:
        self._check(header, Content.MESSAGES, message.sent_at, f"{where}.sent_at")
        known = self._messages.setdefault(message.id, message)
        if known != message:
            raise BadResponse(f"message id {message.id!r} appears twice", field=f"{where}.id")

    def presence(self, event: PresenceEvent, header: Header, where: str) -> None:
        self._check(header, Content.PRESENCE, event.at, f"{where}.at")
        key = f"{event.agent_id}@{event.at.isoformat()}"
        known = self._events.setdefault(key, event)
        if known.status is not event.status:
            raise BadResponse(
                f"agent {event.agent_id!r} has two statuses at {event.at.isoformat()}",
                field=f"{where}.at",
            )

    @staticmethod
    def _check(header: Header, content: Content, moment: datetime, where: str) -> None:
        if content not in header.contains:
            declared = ", ".join(sorted(c.value for c in header.contains))
            raise BadResponse(
                f"a {content.value} record in a file that declares only {declared}", field=where
            )
        if not header.period.start <= moment < header.period.end:
            raise BadResponse(
                f"{moment.isoformat()} is outside the period the file covers, {header.period}",
                field=where,
            )

    def messages(self) -> tuple[Message, ...]:
        return tuple(sorted(self._messages.values(), key=lambda m: (m.sent_at, m.id)))

    def events(self) -> tuple[PresenceEvent, ...]:
        return tuple(sorted(self._events.values(), key=lambda e: (e.at, e.id)))
