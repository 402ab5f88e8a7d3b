"""Which Admin API version shopwatch calls, and how long Shopify supports it.

Shopify releases a stable version on the first day of every quarter, named after it
("2026-10"), and supports each for at least 12 months: "2026-10" until 2027-10-01. A request
to a version past its support is answered with the oldest supported version instead, whose
schema may differ from the one the queries were written for (shopify.dev, "About Shopify API
versioning"). So the end of support is computed from the name, and a version within
:data:`WARN_BEFORE` of it — or past it — is accepted with a warning.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import structlog

from connectors.clock import Clock, utc_now

PINNED = "2026-10"
"""The version the queries in :mod:`connectors.shopify.queries` are written and tested for;
the default of ``api_version``. Supported until 2027-10-01."""
SUPPORT_MONTHS = 12
WARN_BEFORE = timedelta(days=92)
"""About three months: a quarter's notice, the time until the next version's release."""
RELEASE_MONTHS = frozenset({1, 4, 7, 10})

_NAME = re.compile(r"^(\d{4})-(\d{2})$")
log = structlog.get_logger("shopwatch.shopify")


def release(version: str) -> datetime:
    """``"2026-10"`` → 2026-10-01T00:00Z. ``ValueError`` for a name that is no stable version."""
    match = _NAME.match(version)
    if match is None:
        raise ValueError(f"{version!r} is not a version name like {PINNED!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if month not in RELEASE_MONTHS:
        raise ValueError(
            f"{version!r} is not a stable version: Shopify releases them in January, April, "
            "July and October (YYYY-01, -04, -07, -10)"
        )
    return datetime(year, month, 1, tzinfo=UTC)


def end_of_support(version: str) -> datetime:
    """The first instant Shopify no longer guarantees ``version``: 12 months after release."""
    released = release(version)
    return released.replace(year=released.year + SUPPORT_MONTHS // 12)


def support_warning(version: str, now: datetime) -> str | None:
    """What to tell the operator about ``version`` at ``now``, or ``None`` while it is safe."""
    ends = end_of_support(version)
    fix = f'set api_version = "{PINNED}" (the version shopwatch is written for) or leave it out'
    if now >= ends:
        return (
            f"Shopify Admin API {version} has not been supported since {ends:%Y-%m-%d}: "
            f"Shopify answers with its oldest supported version instead; {fix}"
        )
    if now >= ends - WARN_BEFORE:
        return (
            f"Shopify Admin API {version} is supported only until {ends:%Y-%m-%d}; {fix}, "
            "or upgrade shopwatch if it already is"
        )
    if now < release(version):
        return (
            f"Shopify Admin API {version} is not a stable version yet (release "
            f"{release(version):%Y-%m-%d}): a release candidate may still change; {fix}"
        )
    return None


def warn_if_retiring(version: str, *, clock: Clock = utc_now) -> str | None:
    """Log :func:`support_warning` for ``version`` now, if any; returns what was logged."""
    warning = support_warning(version, clock())
    if warning is not None:
        log.warning("shopify api_version needs attention", detail=warning)
    return warning
