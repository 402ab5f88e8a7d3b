"""The ``files`` chat kind: exports dropped into a real directory, imported whole or not at all,
and a watermark bound that stops at the first stretch no file covers."""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from connectors.base import PresenceEventSource, SourceConfig
from connectors.errors import BadResponse, Unavailable
from connectors.files import coverage
from connectors.files.client import ExportDirectory
from connectors.files.coverage import Period
from connectors.files.normalize import CsvFormat
from connectors.files.source import FilesChatSource
from connectors.model import Direction, Message, PresenceStatus, Stream
from connectors.registry import lookup
from daemon.config.settings import ConfigError, parse
from daemon.config.toml_table import ConfigError as TableConfigError
from tests.connectors.support import FIXTURES, FixedClock, read_options

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
DAY1 = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 2026-11-27 00:00 Beijing
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY2 + timedelta(days=1)
DAY4 = DAY3 + timedelta(days=1)
QIANNIU_COLUMNS = {
    "id": "消息编号",
    "conversation_id": "会话",
    "buyer_id": "买家",
    "direction": "方向",
    "agent_id": "客服",
    "is_auto": "自动回复",
    "sent_at": "发送时间",
    "text": "内容",
}


def drop(directory: Path, fixture: str, *, as_name: str | None = None) -> Path:
    """Copy a fixture export into the directory the way a person drops it there."""
    target = directory / (as_name or fixture)
    shutil.copyfile(FIXTURES / "files" / fixture, target)
    return target


def jsonl(directory: Path, name: str, start: datetime, end: datetime, *records: str) -> Path:
    header = f'{{"covers": {{"from": "{start.isoformat()}", "until": "{end.isoformat()}"}}}}'
    path = directory / name
    path.write_text("\n".join([header, *records]) + "\n", encoding="utf-8")
    return path


def buyer_line(message_id: str, sent_at: datetime) -> str:
    return (
        f'{{"id": "{message_id}", "conversation_id": "c1", "buyer_id": "b1", '
        f'"direction": "buyer", "agent_id": null, "is_auto": false, '
        f'"sent_at": "{sent_at.isoformat()}", "text": "hello"}}'
    )


def make_source(
    directory: Path,
    *,
    presence: bool = False,
    page_size: int = 500,
    csv_format: CsvFormat | None = None,
    clock: FixedClock | None = None,
    quiet_seconds: float = 0,
) -> FilesChatSource:
    return FilesChatSource(
        directory=ExportDirectory(directory, quiet_seconds=quiet_seconds),
        csv_format=csv_format or CsvFormat(),
        presence=presence,
        page_size=page_size,
        clock=clock or FixedClock(NOW),
    )


async def poll(source: FilesChatSource, since: datetime) -> tuple[list[Message], datetime | None]:
    """Every page from ``since``, as the poller reads them; with the pages' bound."""
    messages: list[Message] = []
    bounds: set[datetime | None] = set()
    token: str | None = None
    while True:
        page = await source.fetch_messages(since, token)
        messages.extend(page.items)
        bounds.add(page.complete_until)
        token = page.next_page_token
        if token is None:
            assert len(bounds) == 1, "every page of a poll carries the same bound"
            return messages, bounds.pop()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---- formats ------------------------------------------------------------------------------


async def test_a_jsonl_export_is_imported_with_its_presence(tmp_path: Path) -> None:
    drop(tmp_path, "chat-2026-11-27.jsonl")
    source = make_source(tmp_path, presence=True)

    messages, bound = await poll(source, DAY1)

    assert [m.id for m in messages] == ["wx-1001", "wx-1002", "wx-1003"]
    buyer, auto, human = messages
    assert (buyer.direction, buyer.buyer_id, buyer.agent_id) == (Direction.BUYER, "AAGq1", None)
    assert buyer.sent_at == datetime(2026, 11, 27, 1, 0, 5, tzinfo=UTC)
    assert (auto.is_auto, human.is_agent_message) == (True, True)
    assert bound == DAY2, "the file's period, read unbroken from since"
    presence = await source.fetch_presence()
    assert presence is not None
    assert [(p.agent_id, p.status, p.since.hour) for p in presence] == [
        ("a1", PresenceStatus.ONLINE, 0),
        ("a1", PresenceStatus.AWAY, 4),
        ("a1", PresenceStatus.ONLINE, 5),
        ("a1", PresenceStatus.OFFLINE, 9),
    ]
    assert names(tmp_path) == ["imported"]
    assert names(tmp_path / "imported") == ["chat-2026-11-27.jsonl"]


async def test_a_csv_export_with_a_header_row(tmp_path: Path) -> None:
    drop(tmp_path, "chat-2026-11-28.csv")

    messages, bound = await poll(make_source(tmp_path), DAY2)

    by_id = {m.id: m for m in messages}
    assert by_id["wx-2001"].text == "我的订单什么时候发货，地址写错了\n能改吗", "quoted newline"
    assert by_id["wx-2001"].agent_id is None, "an empty agent_id is null"
    assert (by_id["wx-2002"].is_auto, by_id["wx-2003"].is_auto) == (False, True)
    assert bound == DAY3


async def test_a_csv_export_with_its_own_headers_and_encoding(tmp_path: Path) -> None:
    """A Chinese Excel export: headers mapped by ``columns``, saved as GB18030."""
    text = (FIXTURES / "files" / "qianniu-2026-11-29.csv").read_text(encoding="utf-8")
    (tmp_path / "qianniu-2026-11-29.csv").write_bytes(text.encode("gb18030"))
    csv_format = CsvFormat(columns=QIANNIU_COLUMNS, encoding="gb18030")

    messages, bound = await poll(make_source(tmp_path, csv_format=csv_format), DAY3)

    assert [(m.id, m.direction, m.agent_id, m.text) for m in messages] == [
        ("wx-3001", Direction.BUYER, None, "拍了能今天发吗"),
        ("wx-3002", Direction.AGENT, "a2", "今天16点前的单当天发哦"),
    ]
    assert bound == DAY4


async def test_a_presence_csv_covers_presence_only(tmp_path: Path) -> None:
    drop(tmp_path, "chat-2026-11-28.csv")
    source = make_source(tmp_path, presence=True)

    _, bound = await poll(source, DAY2)
    assert bound == DAY2, "messages exported, presence not yet: the stretch is not complete"

    drop(tmp_path, "presence-2026-11-28.csv")
    _, bound = await poll(source, DAY2)
    assert bound == DAY3
    presence = await source.fetch_presence()
    assert presence is not None
    assert [p.status for p in presence] == [PresenceStatus.ONLINE, PresenceStatus.OFFLINE]


async def test_exported_presence_is_an_event_stream_paged_like_messages(tmp_path: Path) -> None:
    """Each event keeps its id and its own time (SPEC §5 ``/presence``), from the snapshot of
    the poll, in (at, id) order, with the poll's bound."""
    drop(tmp_path, "chat-2026-11-27.jsonl")
    source = make_source(tmp_path, presence=True, page_size=3)
    assert isinstance(source, PresenceEventSource)
    await poll(source, DAY1)

    first = await source.fetch_presence_events(DAY1, None)
    assert first is not None
    assert [(e.id, e.agent_id, e.status, e.at) for e in first.items] == [
        ("p-0001", "a1", PresenceStatus.ONLINE, datetime(2026, 11, 27, 0, 29, 40, tzinfo=UTC)),
        ("p-0002", "a1", PresenceStatus.AWAY, datetime(2026, 11, 27, 4, 0, tzinfo=UTC)),
        ("p-0003", "a1", PresenceStatus.ONLINE, datetime(2026, 11, 27, 5, 0, tzinfo=UTC)),
    ]
    assert first.complete_until == DAY2
    assert first.next_page_token is not None
    second = await source.fetch_presence_events(DAY1, first.next_page_token)
    assert second is not None
    assert [e.id for e in second.items] == ["p-0004"] and second.next_page_token is None

    later = await source.fetch_presence_events(DAY1 + timedelta(hours=12), None)
    assert later is not None
    assert [e.id for e in later.items] == ["p-0002", "p-0003", "p-0004"], "at ≥ since"


async def test_without_presence_a_presence_file_is_refused_and_none_is_reported(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "chat-2026-11-27.jsonl")
    source = make_source(tmp_path)

    with pytest.raises(BadResponse, match="set presence = true") as caught:
        await poll(source, DAY1)
    assert caught.value.field == "chat-2026-11-27.jsonl:1.contains"
    assert await source.fetch_presence() is None
    assert await source.fetch_presence_events(DAY1, None) is None, "no event stream either"


# ---- rejection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "field", "says"),
    [
        ([buyer_line("m1", DAY1.replace(hour=20)), "{not json"], "bad.jsonl:3", "not JSON"),
        (
            [buyer_line("m1", DAY2 + timedelta(hours=1))],
            "bad.jsonl:2.sent_at",
            "outside the period",
        ),
        (
            [buyer_line("m1", DAY1).replace('"buyer"', '"bot"')],
            "bad.jsonl:2.direction",
            "not one of buyer, agent",
        ),
        (
            [buyer_line("m1", DAY1).replace("+00:00", "")],
            "bad.jsonl:2.sent_at",
            "without offset",
        ),
        (
            [buyer_line("m1", DAY1), buyer_line("m1", DAY1 + timedelta(hours=1))],
            "bad.jsonl:3.id",
            "appears twice",
        ),
        (
            ['{"id": "p1", "agent_id": "a1", "status": "online", "at": "2026-11-27T01:00:00Z"}'],
            "bad.jsonl:2.at",
            "declares only messages",
        ),
    ],
)
async def test_a_bad_file_is_moved_aside_whole_and_the_page_is_rejected(
    tmp_path: Path, records: list[str], field: str, says: str
) -> None:
    jsonl(tmp_path, "bad.jsonl", DAY1, DAY2, *records)
    jsonl(tmp_path, "good.jsonl", DAY1, DAY2, buyer_line("g1", DAY1))
    source = make_source(tmp_path)

    with capture_logs() as logs, pytest.raises(BadResponse) as caught:
        await poll(source, DAY1)

    assert caught.value.field == field
    assert says in str(caught.value) and "rejected/bad.jsonl" in str(caught.value)
    assert names(tmp_path / "rejected") == ["bad.jsonl"]
    (line,) = [entry for entry in logs if entry["event"] == "export file rejected"]
    assert (line["file"], line["moved_to"]) == ("bad.jsonl", "rejected/bad.jsonl")

    messages, bound = await poll(source, DAY1)
    assert [m.id for m in messages] == ["g1"], "nothing of the bad file, all of the good one"
    assert bound == DAY2


@pytest.mark.parametrize(
    ("first_line", "says"),
    [
        ('{"covers": {"from": "2026-11-27T00:00:00+08:00"}}', "until: missing"),
        (
            '{"covers": {"from": "2026-11-28T00:00:00+08:00", '
            '"until": "2026-11-27T00:00:00+08:00"}}',
            "from must come before until",
        ),
        (
            '{"covers": {"from": "2026-11-29T00:00:00+08:00", '
            '"until": "2026-12-01T00:00:00+08:00"}}',
            "has not ended yet",
        ),
        (
            '{"covers": {"from": "2026-11-27T00:00:00+08:00", '
            '"until": "2026-11-28T00:00:00+08:00"}, "contain": ["messages"]}',
            "unknown header key",
        ),
        (buyer_line("m1", DAY1), "the first line must be the header"),
    ],
)
async def test_a_file_must_declare_a_period_that_is_over(
    tmp_path: Path, first_line: str, says: str
) -> None:
    (tmp_path / "x.jsonl").write_text(first_line + "\n", encoding="utf-8")
    with pytest.raises(BadResponse, match=says):
        await poll(make_source(tmp_path), DAY1)
    assert names(tmp_path / "rejected") == ["x.jsonl"]


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("id,conversation_id\n", "x.csv:1", "# covers from"),
        (
            "# covers from 2026-11-27T00:00:00+08:00 until 2026-11-28T00:00:00+08:00\nid,text\n",
            "x.csv:2",
            "neither sent_at",
        ),
        (
            "# covers from 2026-11-27T00:00:00+08:00 until 2026-11-28T00:00:00+08:00\n"
            "id,conversation_id,buyer_id,direction,is_auto,sent_at,text\n",
            "x.csv:2",
            "no column 'agent_id'",
        ),
        (
            "# covers from 2026-11-27T00:00:00+08:00 until 2026-11-28T00:00:00+08:00\n"
            "id,conversation_id,buyer_id,direction,agent_id,is_auto,sent_at,text\n"
            "m1,c1,b1,buyer,,maybe,2026-11-27T09:00:00+08:00,hi\n",
            "x.csv:3.is_auto",
            "expected true or false",
        ),
        (
            "# covers from 2026-11-27T00:00:00+08:00 until 2026-11-28T00:00:00+08:00\n"
            "id,conversation_id,buyer_id,direction,agent_id,is_auto,sent_at,text\n"
            "m1,c1,b1,buyer,,false,2026-11-27T09:00:00+08:00\n",
            "x.csv:3",
            "expected 8 fields, got 7",
        ),
        (
            "# covers from 2026-11-27T00:00:00+08:00 until 2026-11-28T00:00:00+08:00\n"
            "id,conversation_id,buyer_id,direction,agent_id,is_auto,sent_at,text\n"
            f"{'m' * 129},c1,b1,buyer,,false,2026-11-27T09:00:00+08:00,hi\n",
            "x.csv:3.id",
            "longer than 128 characters",
        ),
    ],
)
async def test_a_bad_csv_names_its_line(tmp_path: Path, text: str, field: str, says: str) -> None:
    (tmp_path / "x.csv").write_text(text, encoding="utf-8")
    with pytest.raises(BadResponse, match=says) as caught:
        await poll(make_source(tmp_path), DAY1)
    assert caught.value.field == field


async def test_a_file_not_in_the_declared_encoding_is_rejected(tmp_path: Path) -> None:
    text = (FIXTURES / "files" / "qianniu-2026-11-29.csv").read_text(encoding="utf-8")
    (tmp_path / "q.csv").write_bytes(text.encode("gb18030"))
    source = make_source(tmp_path, csv_format=CsvFormat(columns=QIANNIU_COLUMNS))
    with pytest.raises(BadResponse, match="not utf-8 text"):
        await poll(source, DAY3)


async def test_an_imported_file_edited_by_hand_is_set_aside_too(tmp_path: Path) -> None:
    drop(tmp_path, "chat-2026-11-28.csv")
    source = make_source(tmp_path)
    await poll(source, DAY2)

    imported = tmp_path / "imported" / "chat-2026-11-28.csv"
    imported.write_text(imported.read_text(encoding="utf-8").replace("FALSE", "nope"), "utf-8")
    with pytest.raises(BadResponse, match="expected true or false"):
        await poll(source, DAY2)
    assert names(tmp_path / "rejected") == ["chat-2026-11-28.csv"]
    _, bound = await poll(source, DAY2)
    assert bound == DAY2, "its period is no longer covered"


# ---- re-import, gaps, paging -----------------------------------------------------------------


async def test_importing_the_same_file_again_changes_nothing(tmp_path: Path) -> None:
    drop(tmp_path, "chat-2026-11-28.csv")
    source = make_source(tmp_path)
    first = await poll(source, DAY2)

    drop(tmp_path, "chat-2026-11-28.csv")
    with capture_logs() as logs:
        again = await poll(source, DAY2)

    assert again == first
    assert names(tmp_path) == ["imported"], "the duplicate drop is removed"
    assert names(tmp_path / "imported") == ["chat-2026-11-28.csv"]
    assert [e["event"] for e in logs] == ["export file already imported"]

    fresh = make_source(tmp_path)  # a restart: imported/ is the stream's history
    assert await poll(fresh, DAY2) == first


async def test_a_changed_export_under_a_used_name_is_kept_beside_the_first(
    tmp_path: Path,
) -> None:
    jsonl(tmp_path, "day.jsonl", DAY1, DAY2, buyer_line("m1", DAY1))
    source = make_source(tmp_path)
    await poll(source, DAY1)

    jsonl(tmp_path, "day.jsonl", DAY1, DAY2, buyer_line("m1", DAY1), buyer_line("m2", DAY1))
    messages, _ = await poll(source, DAY1)

    assert [m.id for m in messages] == ["m1", "m2"], "m1 once: ids de-duplicate"
    first, second = names(tmp_path / "imported")
    assert re.fullmatch(r"day-[0-9a-f]{12}\.jsonl", first) and second == "day.jsonl"


async def test_the_bound_stops_at_a_gap_until_a_file_fills_it(tmp_path: Path) -> None:
    jsonl(tmp_path, "a.jsonl", DAY1, DAY2, buyer_line("a1", DAY1 + timedelta(hours=1)))
    jsonl(tmp_path, "c.jsonl", DAY3, DAY4, buyer_line("c1", DAY3 + timedelta(hours=1)))
    source = make_source(tmp_path)

    with capture_logs() as logs:
        messages, bound = await poll(source, DAY1)
        await poll(source, DAY1)

    assert bound == DAY2, "the watermark may not pass the stretch nobody exported"
    assert [m.id for m in messages] == ["a1", "c1"], "later records are stored all the same"
    gaps = [e for e in logs if e["event"] == "gap in the exported chat"]
    assert len(gaps) == 1, "said once, not on every poll"
    assert gaps[0]["missing"] == str(Period(DAY2, DAY3))

    jsonl(tmp_path, "b.jsonl", DAY2, DAY3, buyer_line("b1", DAY2 + timedelta(hours=1)))
    messages, bound = await poll(source, DAY2)
    assert bound == DAY4
    assert [m.id for m in messages] == ["b1", "c1"]


async def test_a_gap_in_messages_and_another_in_presence_are_each_said_once(
    tmp_path: Path,
) -> None:
    header = '{"covers": {"from": "%s", "until": "%s"}, "contains": ["%s"]}\n'
    for name, start, end, content in [
        ("m1.jsonl", DAY1, DAY2, "messages"),
        ("m3.jsonl", DAY3, DAY4, "messages"),
        ("p1.jsonl", DAY1, DAY3, "presence"),
        ("p4.jsonl", DAY4 - timedelta(hours=1), DAY4, "presence"),
    ]:
        text = header % (start.isoformat(), end.isoformat(), content)
        (tmp_path / name).write_text(text, encoding="utf-8")
    source = make_source(tmp_path, presence=True)

    with capture_logs() as logs:
        bounds = {(await poll(source, DAY1))[1] for _ in range(3)}

    assert bounds == {DAY2}, "the earlier of the two stops"
    gaps = [(e["content"], e["missing"]) for e in logs if e["event"] == "gap in the exported chat"]
    assert gaps == [
        ("messages", str(Period(DAY2, DAY3))),
        ("presence", str(Period(DAY3, DAY4 - timedelta(hours=1)))),
    ]


async def test_nothing_covering_since_holds_the_bound_at_since(tmp_path: Path) -> None:
    source = make_source(tmp_path)
    assert await poll(source, DAY1) == ([], DAY1), "an empty directory: nothing is complete"

    jsonl(tmp_path, "late.jsonl", DAY2, DAY3)
    assert await poll(source, DAY1) == ([], DAY1), "a file starting after since leaves a gap"


async def test_files_behind_since_count_for_coverage_but_are_not_read(tmp_path: Path) -> None:
    jsonl(tmp_path, "a.jsonl", DAY1, DAY2, buyer_line("a1", DAY1 + timedelta(hours=1)))
    jsonl(tmp_path, "b.jsonl", DAY2, DAY3, buyer_line("b1", DAY2 + timedelta(hours=1)))
    source = make_source(tmp_path)
    await poll(source, DAY1)

    since = DAY2 + timedelta(minutes=30)
    messages, bound = await poll(source, since)
    assert ([m.id for m in messages], bound) == (["b1"], DAY3)

    with (tmp_path / "imported" / "a.jsonl").open("a", encoding="utf-8") as behind:
        behind.write("{a line that would reject the file if it were read\n")
    fresh = make_source(tmp_path)
    assert await poll(fresh, since) == (messages, DAY3), "after a restart: its header alone"


async def test_pages_follow_the_page_size_and_tokens_are_checked(tmp_path: Path) -> None:
    records = [buyer_line(f"m{i}", DAY1 + timedelta(minutes=i)) for i in range(5)]
    jsonl(tmp_path, "a.jsonl", DAY1, DAY2, *records)
    source = make_source(tmp_path, page_size=2)

    first = await source.fetch_messages(DAY1, None)
    assert [m.id for m in first.items] == ["m0", "m1"] and first.next_page_token
    messages, _ = await poll(source, DAY1)
    assert [m.id for m in messages] == ["m0", "m1", "m2", "m3", "m4"]
    with pytest.raises(BadResponse) as caught:
        await source.fetch_messages(DAY1, first.next_page_token)
    assert caught.value.field == "page_token", "a token of an earlier poll"


async def test_a_file_still_being_written_waits_for_the_next_poll(tmp_path: Path) -> None:
    path = jsonl(tmp_path, "a.jsonl", DAY1, DAY2, buyer_line("m1", DAY1))
    source = make_source(tmp_path, quiet_seconds=30)

    assert await poll(source, DAY1) == ([], DAY1)
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))
    messages, bound = await poll(source, DAY1)
    assert ([m.id for m in messages], bound) == (["m1"], DAY2)


async def test_other_files_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("exports go here\n", encoding="utf-8")
    (tmp_path / ".chat.jsonl").write_text("partial", encoding="utf-8")
    (tmp_path / "chat.jsonl.part").write_text("partial", encoding="utf-8")
    assert await poll(make_source(tmp_path), DAY1) == ([], DAY1)
    assert names(tmp_path) == [".chat.jsonl", "README.txt", "chat.jsonl.part"]


async def test_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="cannot list"):
        await poll(make_source(tmp_path / "absent"), DAY1)


# ---- coverage ------------------------------------------------------------------------------


def test_periods_touching_or_overlapping_are_one_run() -> None:
    periods = [Period(DAY2, DAY3), Period(DAY1, DAY2), Period(DAY1, DAY1 + timedelta(hours=2))]
    assert coverage.runs(periods) == [Period(DAY1, DAY3)]
    assert coverage.reach(periods, DAY1 + timedelta(hours=5)) == DAY3
    assert coverage.reach(periods, DAY3) == DAY3, "since at the end: nothing more is known"
    assert coverage.reach(periods, DAY4) == DAY4
    assert coverage.first_gap(periods, DAY1) is None
    assert coverage.first_gap([*periods, Period(DAY4, DAY4 + timedelta(1))], DAY1) == Period(
        DAY3, DAY4
    )


# ---- options and config --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "key", "says"),
    [
        ({}, "path", "absolute path"),
        ({"path": "exports"}, "path", "absolute path"),
        ({"path": "/srv/x", "columns": {"sender": "发送人"}}, "columns.sender", "not a field"),
        ({"path": "/srv/x", "csv_encoding": "klingon"}, "csv_encoding", "no encoding"),
        ({"path": "/srv/x", "quiet_seconds": 7200}, "quiet_seconds", "0–3600"),
    ],
)
def test_bad_options_say_what_to_do(keys: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(TableConfigError) as caught:
        read_options("files", Stream.CHAT, keys)
    assert caught.value.key == key
    assert says in caught.value.message


SHOP = """
[[shops]]
id = "tmall"
[shops.orders]
kind = "generic"
base_url = "http://127.0.0.1:9"
token_file = "token"
[shops.chat]
kind = "files"
path = "/srv/shopwatch/chat-export"
"""


def test_a_files_stream_needs_no_endpoint_and_refuses_one() -> None:
    settings = parse(tomllib.loads(SHOP), "test.toml", Path("/cfg"))
    chat = settings.shops[0].chat
    assert (chat.base_url, chat.token_file) == ("", None)
    assert chat.options.path == "/srv/shopwatch/chat-export"
    assert chat.source_config().token() == ""

    for line in ('base_url = "http://x"', 'token_file = "token"'):
        with pytest.raises(ConfigError) as caught:
            parse(tomllib.loads(SHOP + line + "\n"), "test.toml", Path("/cfg"))
        assert caught.value.key.startswith("shops[0].chat.")
        assert "reads no network endpoint" in caught.value.message


def test_files_cannot_serve_orders() -> None:
    with pytest.raises(ValueError, match='kind = "taobao"'):
        lookup("files", Stream.ORDERS)


async def test_the_registry_builds_a_source_reading_the_directory(tmp_path: Path) -> None:
    options = read_options("files", Stream.CHAT, {"path": str(tmp_path), "quiet_seconds": 0})
    config = SourceConfig(
        kind="files", base_url="", token=lambda: "", timeout=5.0, page_size=500, options=options
    )
    source = lookup("files", Stream.CHAT).build(config, Stream.CHAT)
    assert isinstance(source, FilesChatSource)
    drop(tmp_path, "chat-2026-11-28.csv")
    messages, _ = await poll(source, DAY2)
    assert len(messages) == 3
    await source.aclose()
