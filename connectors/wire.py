"""Strict readers for JSON values, shared by every platform's ``normalize`` module.

Each reader names the offending field in its :class:`BadResponse`, so a rejected page's log
line says exactly what drifted (``orders[3].paid_at: expected RFC 3339 with offset``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from connectors.errors import BadResponse
from connectors.model import Rejected

T = TypeVar("T")

_MISSING = object()


def field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    """The value of a required key (which may be null); a missing key is schema drift.

    Called for every field of every record, so the good path is a bare look-up and the
    checks run only when it fails."""
    try:
        return obj[key]
    except KeyError:
        raise BadResponse("missing", field=f"{where}.{key}") from None
    except (TypeError, IndexError):
        raise BadResponse("expected an object", field=where) from None


def string(obj: Mapping[str, Any], key: str, where: str, *, nullable: bool = False) -> str | None:
    value = field(obj, key, where)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadResponse(f"expected a string, got {type(value).__name__}", field=f"{where}.{key}")
    return value


def required_string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = string(obj, key, where)
    assert value is not None
    if not value:
        raise BadResponse("must not be empty", field=f"{where}.{key}")
    return value


ID_MAX = 128
"""The longest id the store keeps (its id columns' width): a longer one is refused here,
naming its field, not by PostgreSQL at the write (SQLite would take it) as a storage fault."""


def identifier(
    obj: Mapping[str, Any],
    key: str,
    where: str,
    *,
    nullable: bool = False,
    longest: int = ID_MAX,
) -> str:
    """A required id (an order's, a buyer's, an agent's) or code of at most ``longest``
    characters, what its column keeps; with ``nullable``, null or empty reads as ``""``."""
    value = string(obj, key, where, nullable=nullable) or ""
    if not value and not nullable:
        raise BadResponse("must not be empty", field=f"{where}.{key}")
    if len(value) > longest:
        raise BadResponse(
            f"longer than {longest} characters ({len(value)})", field=f"{where}.{key}"
        )
    return value


def parse_instant(value: object, where: str) -> datetime:
    """An RFC 3339 instant with an offset, returned in UTC. Naive times are rejected."""
    if not isinstance(value, str):
        raise BadResponse("expected an RFC 3339 string", field=where)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadResponse(f"not RFC 3339: {value!r}", field=where) from None
    if parsed.tzinfo is None:
        raise BadResponse(f"RFC 3339 time without offset: {value!r}", field=where)
    return parsed.astimezone(UTC)


def instant(obj: Mapping[str, Any], key: str, where: str) -> datetime:
    return parse_instant(field(obj, key, where), f"{where}.{key}")


def optional_instant(obj: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = field(obj, key, where)
    return None if value is None else parse_instant(value, f"{where}.{key}")


def boolean(obj: Mapping[str, Any], key: str, where: str) -> bool:
    value = field(obj, key, where)
    if not isinstance(value, bool):
        raise BadResponse("expected true or false", field=f"{where}.{key}")
    return value


def integer(obj: Mapping[str, Any], key: str, where: str, *, low: int, high: int) -> int:
    value = field(obj, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadResponse(f"expected an integer {low}–{high}", field=f"{where}.{key}")
    return value


def decimal(obj: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = field(obj, key, where)
    if not isinstance(value, str):
        raise BadResponse("expected a decimal string", field=f"{where}.{key}")
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise BadResponse(f"not a decimal: {value!r}", field=f"{where}.{key}") from None
    if not result.is_finite():
        raise BadResponse(f"not a finite decimal: {value!r}", field=f"{where}.{key}")
    return result


_MEMBERS: dict[type[Any], dict[Any, Any]] = {}


def _members(allowed: type[Any]) -> dict[Any, Any]:
    members = _MEMBERS.get(allowed)
    if members is None:
        members = _MEMBERS[allowed] = {member.value: member for member in allowed}
    return members


def choice(obj: Mapping[str, Any], key: str, where: str, allowed: type[Any]) -> Any:
    """A value of a ``StrEnum``; anything else names the allowed values. (A dictionary
    look-up: calling the enum class costs more than the rest of the field.)"""
    value = field(obj, key, where)
    try:
        return _members(allowed)[value]
    except (KeyError, TypeError):
        names = ", ".join(member.value for member in allowed)
        raise BadResponse(f"{value!r} is not one of {names}", field=f"{where}.{key}") from None


def items(body: object, key: str) -> list[Any]:
    """The list under ``key`` of a response body."""
    if not isinstance(body, Mapping):
        raise BadResponse("response body is not a JSON object")
    value = body.get(key, _MISSING)
    if value is _MISSING:
        raise BadResponse("missing", field=key)
    if not isinstance(value, list):
        raise BadResponse("expected a list", field=key)
    return value


_INDEX = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_REASON = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}")


def lenient(read: Callable[[], T]) -> T | None:
    """``read()``, or None when the record does not say (it raised :class:`BadResponse`):
    for the id and buyer of a record refused for another field."""
    try:
        return read()
    except BadResponse:
        return None


def rejected(
    error: BadResponse, record: str, key: str | None, buyer: str | None = None
) -> Rejected:
    """The record at ``record`` (``orders.nodes[3]``) refused for ``error``. Its metric reason
    is the field's path inside the record with indices dropped (``transactions.kind``): a word
    the parser chose, never a value from the platform; ``record`` when there is none."""
    where = error.field or record
    inner = where.removeprefix(record) if where.startswith(record) else where
    reason = _INDEX.sub("", inner).strip(".")
    return Rejected(
        field=where,
        error=error.detail,
        reason=reason if _REASON.fullmatch(reason) else "record",
        key=key,
        buyer=buyer,
    )


def rfc3339(moment: datetime) -> str:
    """Format an aware instant for the wire, in UTC with a ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
