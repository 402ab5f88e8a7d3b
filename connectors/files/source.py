"""The ``files`` chat stream: the export directory read like an API, from ``since`` on.

The first page of a poll (``page_token`` ``None``) does the work, in a worker thread:

1. **Import.** Each export file waiting in the directory is read and checked whole
   (:mod:`normalize`). A good file moves to ``imported/``; a bad one moves to ``rejected/``,
   is logged with the line and field at fault, and makes this page fail as rejected
   (:class:`~connectors.errors.BadResponse`, counted by the poller); the next poll goes on
   without it. Nothing of a rejected file is ever read.
2. **Read.** ``imported/`` is the stream's history. The records of every imported file whose
   period ends after ``since`` are merged, de-duplicated by id and sorted (``sent_at``, ``id``);
   files behind ``since`` are known by their header line alone. A file dropped again (the same
   bytes) is removed as a duplicate; an overlapping re-export adds only ids not seen, and the
   store keeps the first version of a message anyway. So importing twice changes nothing.
3. **Bound.** Every page carries ``complete_until``: how far the declared periods reach
   unbroken from ``since`` (for messages, and for presence too when the stream imports it).
   The poller keeps the watermark at or below it, so no rule judges a stretch no file covers;
   a gap before a later file is logged once, naming the missing stretch.

Later pages are served from that poll's snapshot. With ``presence = true`` the exported
presence events (``at`` ≥ ``since``) are an event stream
(:class:`~connectors.base.PresenceEventSource`, as the generic API's ``/presence``), paged from
the same snapshot: each event keeps its own time, so presence from files is as exact as the
export, and the poller records it known exactly as far as the chat watermark, which the
exported periods bound. Without it there is no presence (``None``), never a guess.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import structlog

from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse
from connectors.files import coverage, normalize
from connectors.files.client import ExportDirectory, FileStat
from connectors.files.coverage import Content, Period
from connectors.files.normalize import CsvFormat, Export, Header
from connectors.model import AgentPresence, Message, Page, PresenceEvent

log = structlog.get_logger("shopwatch.files")

MAX_PAGE_SIZE = 500


T = TypeVar("T")


@dataclass(slots=True)
class _Imported:
    stat: FileStat
    header: Header
    export: Export | None
    """The records, kept while the file's period reaches past the watermark."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    generation: int
    since: datetime
    messages: tuple[Message, ...]
    presence: tuple[PresenceEvent, ...]
    complete_until: datetime


class FilesChatSource:
    """A :class:`connectors.base.ChatSource` over a directory of chat exports."""

    def __init__(
        self,
        *,
        directory: ExportDirectory,
        csv_format: CsvFormat,
        presence: bool,
        page_size: int,
        clock: Clock = utc_now,
    ) -> None:
        self._directory = directory
        self._csv = csv_format
        self._presence = presence
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._clock = clock
        self._imported: dict[str, _Imported] = {}
        self._snapshot: _Snapshot | None = None
        self._generation = 0
        self._reported_gaps: dict[Content, Period | None] = {}
        self._log = log.bind(directory=str(directory.path))

    @property
    def contents(self) -> tuple[Content, ...]:
        """What must be covered before the watermark may pass a stretch."""
        return (Content.MESSAGES, Content.PRESENCE) if self._presence else (Content.MESSAGES,)

    async def fetch_messages(self, since: datetime, page_token: str | None) -> Page[Message]:
        if page_token is None:
            self._snapshot = None  # a failed first page leaves no earlier poll's pages behind
            self._snapshot = await asyncio.to_thread(self._read, since)
            offset = 0
        else:
            offset = self._offset(page_token, since)
        snapshot = self._snapshot
        assert snapshot is not None
        return self._page(snapshot, snapshot.messages, offset)

    async def fetch_presence_events(
        self, since: datetime, page_token: str | None
    ) -> Page[PresenceEvent] | None:
        """The exported presence events of this poll's snapshot, ascending by (``at``, id);
        ``None`` when the stream does not import presence."""
        if not self._presence:
            return None
        snapshot = self._snapshot
        if page_token is None and (snapshot is None or snapshot.since != since):
            # The poller reads presence after the messages of the same poll; anyone else
            # gets a snapshot of their own.
            snapshot = self._snapshot = await asyncio.to_thread(self._read, since)
        offset = 0 if page_token is None else self._offset(page_token, since)
        assert snapshot is not None
        return self._page(snapshot, snapshot.presence, offset)

    def _page(self, snapshot: _Snapshot, items: Sequence[T], offset: int) -> Page[T]:
        """One page of ``items`` (the snapshot's messages or events) from ``offset``; its
        token names the snapshot, so a later poll's export cannot shift it."""
        end = offset + self._page_size
        return Page(
            items=tuple(items[offset:end]),
            next_page_token=f"{snapshot.generation}:{end}" if end < len(items) else None,
            complete_until=snapshot.complete_until,
        )

    async def fetch_presence(self) -> list[AgentPresence] | None:
        """The snapshot's events as statuses, for a caller that samples; the poller reads
        :meth:`fetch_presence_events` instead."""
        if not self._presence:
            return None
        events = self._snapshot.presence if self._snapshot else ()
        return [AgentPresence(agent_id=e.agent_id, status=e.status, since=e.at) for e in events]

    async def aclose(self) -> None:
        self._imported.clear()
        self._snapshot = None

    def _offset(self, token: str, since: datetime) -> int:
        generation, _, offset = token.partition(":")
        snapshot = self._snapshot
        if (
            snapshot is None
            or generation != str(snapshot.generation)
            or snapshot.since != since
            or not offset.isdigit()
        ):
            raise BadResponse("not a token this source issued", field="page_token")
        return int(offset)

    # ---- the first page: import, read, bound --------------------------------------------

    def _read(self, since: datetime) -> _Snapshot:
        self._import_waiting()
        self._refresh(since)
        live = [f.export for f in self._imported.values() if f.export is not None]
        messages: dict[str, Message] = {}
        events: dict[tuple[str, datetime], PresenceEvent] = {}
        for export in sorted(live, key=lambda e: e.name):
            for message in export.messages:
                if message.sent_at >= since:
                    messages.setdefault(message.id, message)
            for event in export.presence:
                if event.at >= since:
                    events.setdefault((event.agent_id, event.at), event)
        self._generation += 1
        return _Snapshot(
            generation=self._generation,
            since=since,
            messages=tuple(sorted(messages.values(), key=lambda m: (m.sent_at, m.id))),
            presence=tuple(sorted(events.values(), key=lambda e: (e.at, e.id))),
            complete_until=self._complete_until(since),
        )

    def _import_waiting(self) -> None:
        now = self._clock()
        rejected: list[tuple[str, BadResponse]] = []
        for path in self._directory.pending():
            data = self._directory.read(path)
            try:
                export = normalize.parse(
                    path.name, data, csv_format=self._csv, now=now, presence=self._presence
                )
            except BadResponse as error:
                moved = self._directory.reject(path, data)
                self._log.error(
                    "export file rejected", file=path.name, moved_to=moved, error=str(error)
                )
                rejected.append((moved, error))
                continue
            accepted = self._directory.accept(path, data)
            if accepted.duplicate:
                self._log.info("export file already imported", file=path.name)
                continue
            self._imported[accepted.stat.name] = _Imported(accepted.stat, export.header, export)
            self._log.info(
                "export file imported",
                file=accepted.stat.name,
                covers=str(export.header.period),
                contains=sorted(c.value for c in export.header.contains),
                messages=len(export.messages),
                presence=len(export.presence),
            )
        if rejected:
            raise _rejection(rejected)

    def _refresh(self, since: datetime) -> None:
        """Know every imported file by its header; hold the records of those reaching past
        ``since``. A file found changed or broken in ``imported/`` is set aside like a new one."""
        present = {stat.name: stat for stat in self._directory.imported()}
        for name in set(self._imported) - set(present):
            del self._imported[name]  # removed by hand: it no longer covers anything
        rejected: list[tuple[str, BadResponse]] = []
        for name, stat in present.items():
            try:
                self._know(name, stat, since)
            except BadResponse as error:
                self._imported.pop(name, None)
                moved = self._directory.reject_imported(name)
                self._log.error(
                    "imported export file rejected", file=name, moved_to=moved, error=str(error)
                )
                rejected.append((moved, error))
        if rejected:
            raise _rejection(rejected)

    def _know(self, name: str, stat: FileStat, since: datetime) -> None:
        known = self._imported.get(name)
        if known is None or known.stat != stat:
            head, complete = self._directory.head_of_imported(name)
            header = normalize.parse_head(name, head, complete=complete, csv_format=self._csv)
            known = self._imported[name] = _Imported(stat, header, None)
        if known.header.period.end <= since:
            known.export = None  # behind the watermark for good
        elif known.export is None:
            known.export = normalize.parse(
                name,
                self._directory.read_imported(name),
                csv_format=self._csv,
                now=self._clock(),
                presence=True,  # checked on import; turning presence off later only ignores it
            )

    def _complete_until(self, since: datetime) -> datetime:
        """How far every content this stream needs is covered unbroken from ``since``."""
        reached = []
        for content in self.contents:
            periods = [
                f.header.period for f in self._imported.values() if content in f.header.contains
            ]
            reached.append(coverage.reach(periods, since))
            gap = coverage.first_gap(periods, since)
            if gap != self._reported_gaps.get(content):  # said once per gap, not every poll
                self._reported_gaps[content] = gap
                if gap is not None:
                    self._log.warning(
                        "gap in the exported chat",
                        content=content.value,
                        missing=str(gap),
                        hint="the chat watermark stays at the gap's start until a file "
                        "covering it is dropped; nothing after it is judged",
                    )
        return min(reached)


def _rejection(rejected: list[tuple[str, BadResponse]]) -> BadResponse:
    """One rejected page for the poller to count, naming every file set aside."""
    files = "; ".join(f"{moved} ({error})" for moved, error in rejected)
    return BadResponse(
        f"export file(s) failed validation and were moved aside: {files}",
        field=rejected[0][1].field,
    )
