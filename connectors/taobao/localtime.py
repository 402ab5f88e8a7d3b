"""Taobao's wall-clock times: ``yyyy-MM-dd HH:mm:ss`` without an offset, meaning Beijing time.

TOP documents its request ``timestamp`` as GMT+8, and the trade times (``created``,
``pay_time``, ``modified``, ``end_time``) carry no offset; they are read in Asia/Shanghai
(UTC+8, no daylight saving since 1991) and handed out in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from connectors.errors import BadResponse

SHANGHAI = ZoneInfo("Asia/Shanghai")
FORMAT = "%Y-%m-%d %H:%M:%S"


def parse(value: object, where: str) -> datetime:
    """A Taobao local time as an aware UTC instant; anything else names ``where``."""
    if not isinstance(value, str):
        raise BadResponse("expected a 'yyyy-MM-dd HH:mm:ss' string", field=where)
    try:
        naive = datetime.strptime(value, FORMAT)  # noqa: DTZ007 - the zone is attached below
    except ValueError:
        raise BadResponse(f"not 'yyyy-MM-dd HH:mm:ss': {value!r}", field=where) from None
    return naive.replace(tzinfo=SHANGHAI).astimezone(UTC)


def render(moment: datetime) -> str:
    """An aware instant as Taobao wall-clock time, for request parameters."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(SHANGHAI).strftime(FORMAT)
