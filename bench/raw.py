"""The raw bound: the same simulator pages, read and stored by the plainest fast code.

No daemon: one keep-alive ``http.client`` connection, ``json.loads``, timestamps rewritten
as strings into the daemon's SQLite encoding, ``executemany`` of plain tuples with
``INSERT OR IGNORE`` into the same schema (created by the daemon's own migrations), one
commit per page as the daemon does. Pages must be read one after another (each page's
token comes from the one before), exactly as the daemon reads them.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.config import SHOP
from bench.server import TOKEN

PAGE = 500

ORDER_SQL = (
    "INSERT OR IGNORE INTO order_versions (shop, order_id, updated_at, buyer_id, status, "
    "created_at, paid_at, closed_at, buyer_message, seller_memo, seller_flag, amount, currency, "
    "observed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
MESSAGE_SQL = (
    "INSERT OR IGNORE INTO messages (shop, message_id, conversation_id, buyer_id, direction, "
    "agent_id, is_auto, sent_at, text, observed_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


def sql_time(value: str | None) -> str | None:
    """RFC 3339 → the daemon's SQLite text ('YYYY-MM-DD HH:MM:SS.ffffff', UTC)."""
    if value is None:
        return None
    if value[-1] == "Z":
        if len(value) == 20:
            return f"{value[:10]} {value[11:19]}.000000"
        if len(value) == 27:
            return f"{value[:10]} {value[11:26]}"
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def order_rows(items: list[dict[str, Any]], observed: str) -> list[tuple[Any, ...]]:
    t = sql_time
    return [
        (
            SHOP,
            o["id"],
            t(o["updated_at"]),
            o["buyer_id"],
            o["status"],
            t(o["created_at"]),
            t(o["paid_at"]),
            t(o["closed_at"]),
            o["buyer_message"],
            o["seller_memo"],
            o["seller_flag"],
            o["amount"],
            o["currency"],
            observed,
        )
        for o in items
    ]


def message_rows(items: list[dict[str, Any]], observed: str) -> list[tuple[Any, ...]]:
    t = sql_time
    return [
        (
            SHOP,
            m["id"],
            m["conversation_id"],
            m["buyer_id"],
            m["direction"],
            m["agent_id"] or None,
            1 if m["is_auto"] else 0,
            t(m["sent_at"]),
            m["text"] or "",
            observed,
        )
        for m in items
    ]


async def _migrate(database: Path) -> None:
    from daemon.store import migrate
    from daemon.store.engine import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate.upgrade(engine)
    await engine.dispose()


def create_schema(database: Path) -> None:
    asyncio.run(_migrate(database))


def connect(database: Path) -> sqlite3.Connection:
    db = sqlite3.connect(database, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
        db.execute(f"PRAGMA {pragma}")
    return db


def run(base_url: str, since: str, database: Path, observed: str) -> dict[str, Any]:
    """Read both streams' pages since ``since`` and store them; time each part."""
    create_schema(database)
    db = connect(database)
    url = urlsplit(base_url)
    http_conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
    timing = {"fetch": 0.0, "parse": 0.0, "convert": 0.0, "insert": 0.0}
    counts = {"orders": 0, "messages": 0, "pages": 0, "bytes": 0}
    started = time.perf_counter()
    for path, key, param, to_rows, sql in (
        ("/orders", "orders", "updated_since", order_rows, ORDER_SQL),
        ("/messages", "messages", "since", message_rows, MESSAGE_SQL),
    ):
        token: str | None = None
        while True:
            query = {param: since, "limit": PAGE}
            if token:
                query["page_token"] = token
            t0 = time.perf_counter()
            http_conn.request("GET", f"{url.path}{path}?{urlencode(query)}", headers=headers)
            response = http_conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}: {body[:200]!r}")
            t1 = time.perf_counter()
            page = json.loads(body)
            t2 = time.perf_counter()
            rows = to_rows(page[key], observed)
            t3 = time.perf_counter()
            db.execute("BEGIN")
            db.executemany(sql, rows)
            db.execute("COMMIT")
            t4 = time.perf_counter()
            timing["fetch"] += t1 - t0
            timing["parse"] += t2 - t1
            timing["convert"] += t3 - t2
            timing["insert"] += t4 - t3
            counts[key] += len(rows)
            counts["pages"] += 1
            counts["bytes"] += len(body)
            token = page["next_page_token"]
            if not token:
                break
    total = time.perf_counter() - started
    stored = {
        "orders": db.execute("SELECT count(*) FROM order_versions").fetchone()[0],
        "messages": db.execute("SELECT count(*) FROM messages").fetchone()[0],
    }
    db.close()
    http_conn.close()
    items = counts["orders"] + counts["messages"]
    local = timing["parse"] + timing["convert"] + timing["insert"]
    return {
        "items": items,
        **counts,
        "stored": stored,
        "seconds": total,
        "items_per_s": items / total if total else None,
        "breakdown_seconds": timing,
        "parse_insert_items_per_s": items / local if local else None,
    }
