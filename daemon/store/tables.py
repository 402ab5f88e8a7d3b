"""The schema. Alembic migrations in ``daemon/store/migrations`` create and evolve it.

Uniqueness keys make re-reading harmless: an order version is (shop, order, updated_at),
a message (shop, message), a violation (shop, rule, subject). Instants are stored as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import false, true
from sqlalchemy.types import TypeDecorator, TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, whatever the database keeps.

    PostgreSQL keeps ``timestamptz``. SQLite keeps text, and there this type writes and
    reads the text itself — the very format SQLAlchemy's SQLite DATETIME uses
    (``YYYY-MM-DD HH:MM:SS.ffffff``, which sorts as time does) — with ``isoformat`` and
    ``fromisoformat`` instead of the generic formatter and regex parser: converting
    instants was the largest Python cost of storing a page.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value + "+00:00")  # 8x faster than .replace()
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


MAX_ID = 2**31 - 1
"""The largest id an ``Integer`` primary key holds: PostgreSQL's INTEGER (SQLite's holds
more, but no row is ever numbered past it)."""


def row_id(text: str) -> int | None:
    """``text`` (a URL's id) as a row id if it can be one: ASCII digits within
    :data:`MAX_ID`. Past the column's range it is no row, not a database error (PostgreSQL
    refuses to compare an INTEGER with 2**40)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

order_versions = Table(
    "order_versions",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("order_id", String(128), primary_key=True),
    Column("updated_at", UTCDateTime, primary_key=True),
    Column("buyer_id", String(128), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("paid_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("buyer_message", Text),
    Column("seller_memo", Text),
    Column("seller_flag", SmallInteger, nullable=False),
    Column("amount", String(40), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    # False: the platform withheld the buyer's identity (Shopify without protected customer
    # data access), so buyer_id is a stand-in that never pairs with the chat side.
    Column("buyer_identified", Boolean, nullable=False, server_default=true()),
    Index(None, "shop", "buyer_id", "updated_at"),
    Index(None, "shop", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("conversation_id", String(128), nullable=False),
    Column("buyer_id", String(128), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("agent_id", String(128)),
    Column("is_auto", Boolean, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Index(None, "shop", "buyer_id", "sent_at"),
    Index(None, "shop", "sent_at"),
)

rejected_records = Table(
    "rejected_records",
    metadata,
    # Records a connector refused alone while keeping the rest of their page (an order with an
    # unknown status): the evidence of that order, or of that conversation on a chat stream,
    # lacks a version, so no rule decides against its buyer (daemon/watch/judge.py). Keyed by
    # the platform's order or conversation id; no content of the record is kept.
    Column("shop", String(64), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("record_key", String(128), primary_key=True),
    Column("reason", String(64), nullable=False),
    Column("buyer_id", String(128)),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Index(None, "shop", "last_seen_at"),
)

presence = Table(
    "presence",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("agent_id", String(128), primary_key=True),
    Column("since", UTCDateTime, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
)

stream_state = Table(
    "stream_state",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("history_start", UTCDateTime, nullable=False),
    Column("watermark", UTCDateTime, nullable=False),
    Column("last_success_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

violations = Table(
    "violations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shop", String(64), nullable=False),
    Column("rule", String(16), nullable=False),
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("buyer_id", String(128)),
    Column("agent", String(128)),
    Column("shift", String(64)),
    Column("deadline", UTCDateTime, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("tier", SmallInteger),
    Column("points", Integer, nullable=False),
    Column("fine", String(20), nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("final", Boolean, nullable=False),
    Column("source", String(16), nullable=False),
    Column("note", Text),
    Column("evidence", JSON, nullable=False),
    UniqueConstraint("shop", "rule", "subject_id"),
    Index(None, "agent", "deadline"),
    Index(None, "rule", "deadline"),
    # The ledger's three orders (migration 0010): each also holds what the console's filters
    # test and what the scorecard sums, with the id as the order's tie-break, so a page, a
    # count per status or a month's totals walks one index and reads from the table only
    # the rows it shows (a row carries its evidence: a page read each).
    # daemon.console.listing names them to SQLite, which keeps no statistics to choose by.
    Index(
        "ix_violations_ledger_deadline",
        "deadline",
        "id",
        "status",
        "agent",
        "rule",
        "shop",
        "points",
        "fine",
    ),
    Index(
        "ix_violations_ledger_points", "points", "deadline", "id", "status", "agent", "rule", "shop"
    ),
    Index("ix_violations_ledger_status", "status", "deadline", "id", "agent", "rule", "shop"),
)

violation_events = Table(
    "violation_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("violation_id", Integer, ForeignKey("violations.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),
    Column("by", String(128)),
    Column("reason", Text),
    Column("details", JSON, nullable=False),
)

undecidable_subjects = Table(
    "undecidable_subjects",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("rule", String(16), primary_key=True),
    Column("subject_id", String(128), primary_key=True),
    Column("reason", String(64), nullable=False),
    Column("deadline", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
)

alert_notices = Table(
    "alert_notices",
    metadata,
    # What shopwatch has told a receiver, so a restart neither re-announces nor forgets.
    # One row per (receiver, kind, subject): receiver is "alertmanager" (all URLs share it)
    # or a webhook's name; kind is "violation" or "at_risk".
    Column("receiver", String(64), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("shop", String(64), primary_key=True),
    Column("rule", String(16), primary_key=True),
    Column("subject_id", String(128), primary_key=True),
    Column("tier", SmallInteger),  # the highest tier announced (escalating rules)
    Column("deadline", UTCDateTime, nullable=False),  # a new deadline is a new warning
    Column("starts_at", UTCDateTime, nullable=False),  # Alertmanager startsAt, kept stable
    Column("active_until", UTCDateTime, nullable=False),  # fire / try delivery until then
    Column("notice", JSON, nullable=False),  # the rendered notice, re-sent after a restart
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),  # last successful delivery; NULL = not delivered yet
    Column("closed_at", UTCDateTime),  # needs no more sending: resolved, delivered, given up
    Index(None, "closed_at"),
)

# ---- performance management (scorecard): bonuses, supervisor adjustments, their audit ----
# A month is "YYYY-MM" and a day "YYYY-MM-DD", both in the shop's timezone: they are the
# supervisor's calendar, not instants.

bonuses = Table(
    "bonuses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(128), nullable=False),
    Column("month", String(7), nullable=False),
    Column("day", String(10), nullable=False),
    Column("code", String(16), nullable=False),
    Column("points", Integer, nullable=False),
    Column("by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Index(None, "month", "agent"),
)

score_adjustments = Table(
    "score_adjustments",
    metadata,
    Column("agent", String(128), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("by", String(128), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

scorecard_events = Table(
    "scorecard_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("agent", String(128), nullable=False),
    Column("month", String(7), nullable=False),
    Column("entity", String(16), nullable=False),
    Column("bonus_id", Integer, ForeignKey("bonuses.id")),
    Column("action", String(16), nullable=False),
    Column("by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Index(None, "month", "agent"),
)

# ---- people on shift (SPEC §3 "Presence", §6): supervisor-approved leaves, the handover
# book, and the trail of who wrote each. Shopwatch's own data: no platform reports them.

leaves = Table(
    "leaves",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent", String(128), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),  # "from", inclusive
    Column("ends_at", UTCDateTime, nullable=False),  # "until", exclusive
    Column("by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "ends_at"),
    Index(None, "agent", "ends_at"),
)

handovers = Table(
    "handovers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shift", String(64), nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD the occurrence starts, shop time
    Column("by", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("written_at", UTCDateTime, nullable=False),
    Index(None, "day", "shift"),
)

people_events = Table(
    "people_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("entity", String(16), nullable=False),  # leave | handover
    Column("entity_id", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("by", String(128), nullable=False),
    Column("details", JSON, nullable=False),
    Index(None, "entity", "entity_id"),
)

# ---- scale-out (SPEC §9): which process watches which shop. PostgreSQL only: SQLite is one
# process. Expiry instants are the database's own clock, so processes' clocks may differ.

shop_leases = Table(
    "shop_leases",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("holder", String(128)),  # NULL: free
    Column("expires_at", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime),
)

daemon_instances = Table(
    "daemon_instances",
    metadata,
    Column("instance", String(128), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# ---- the console (SPEC §8): the people who sign in, and closed months (SPEC §4) ----

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # agent | supervisor | lead
    Column("agent", String(128)),  # an agent's roster id; NULL for the other roles
    Column("password_hash", String(255), nullable=False),  # argon2id, never the password
    Column("active", Boolean, nullable=False),
    Column("session_epoch", Integer, nullable=False),  # raised to end every session
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_signed_in_at", UTCDateTime),  # migration 0011
    # A password set for somebody else (a lead's, an operator's --one-time): it opens
    # nothing but /password, where its owner chooses their own.
    Column("password_temporary", Boolean, nullable=False, server_default=false()),
)

user_events = Table(
    "user_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    # added | password | disabled | enabled | role
    Column("action", String(16), nullable=False),
    Column("by", String(128), nullable=False),
    Column("details", JSON, nullable=False),
)

month_closes = Table(
    "month_closes",
    metadata,
    # A month once closed: its bounds as instants (taken in the timezone of its closing, so
    # the ledger can refuse changes without knowing the config) and the scorecard frozen then.
    Column("month", String(7), primary_key=True),
    Column("status", String(8), nullable=False),  # closed | reopened
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=False),
    Column("closed_by", String(128), nullable=False),
    Column("scorecard", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "starts_at"),
)

month_events = Table(
    "month_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("month", String(7), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("action", String(16), nullable=False),  # closed | reopened
    Column("by", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
)

# ---- presence as evidence (SPEC §3 "Presence"): the event stream, and where presence is
# known. Sampled statuses go into ``presence`` above, one row where an agent's status changed
# (at the sample that saw it).

presence_events = Table(
    "presence_events",
    metadata,
    Column("shop", String(64), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("agent_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Index(None, "shop", "at"),
    Index(None, "shop", "agent_id", "at"),
)

presence_known = Table(
    "presence_known",
    metadata,
    # Where presence is known: for an event stream [history start, chat watermark), grown by
    # every poll; for samples [s1, s2] between consecutive samples of one process no more
    # than 2 x poll_interval apart (a restart starts a new span: the gap is unknown).
    Column("shop", String(64), primary_key=True),
    Column("kind", String(8), primary_key=True),  # events | samples
    Column("start", UTCDateTime, primary_key=True),
    Column("end", UTCDateTime, nullable=False),
    Column("end_included", Boolean, nullable=False),
)

presence_sources = Table(
    "presence_sources",
    metadata,
    # How each shop's chat connector reports presence, as its last successful poll found.
    Column("shop", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # events | samples | none
    Column("last_sample_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)
