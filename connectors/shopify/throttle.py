"""Shopify's cost bucket, as the latest response reported it, and how long to wait for it.

Every GraphQL Admin API response carries ``extensions.cost``::

    {"requestedQueryCost": 352, "actualQueryCost": 41,
     "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1959.0,
                        "restoreRate": 100.0}}

A query runs only when the bucket holds its *requested* cost (the actual cost is refunded
afterwards); otherwise Shopify answers ``THROTTLED`` and runs nothing. The bucket refills at
``restoreRate`` points a second up to ``maximumAvailable`` (shopify.dev, "GraphQL Admin API
rate limits"). Pure: the caller supplies the instants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryCost:
    """One response's ``extensions.cost``."""

    requested: float
    actual: float | None
    """``None`` when the query did not run (throttled)."""
    maximum: float
    available: float
    restore_rate: float

    @classmethod
    def parse(cls, extensions: Any) -> QueryCost | None:
        """The cost report of a response's ``extensions``; ``None`` when absent or malformed
        (pacing then falls back on ``THROTTLED`` answers alone)."""
        if not isinstance(extensions, Mapping):
            return None
        cost = extensions.get("cost")
        if not isinstance(cost, Mapping):
            return None
        status = cost.get("throttleStatus")
        if not isinstance(status, Mapping):
            return None
        requested = _number(cost.get("requestedQueryCost"))
        maximum = _number(status.get("maximumAvailable"))
        available = _number(status.get("currentlyAvailable"))
        restore_rate = _number(status.get("restoreRate"))
        if requested is None or maximum is None or available is None or restore_rate is None:
            return None
        if maximum <= 0 or restore_rate <= 0:
            return None
        return cls(
            requested=requested,
            actual=_number(cost.get("actualQueryCost")),
            maximum=maximum,
            available=max(0.0, min(available, maximum)),
            restore_rate=restore_rate,
        )

    def seconds_until(self, needed: float) -> float:
        """How long until the bucket, as reported, holds ``needed`` points."""
        return max(0.0, needed - self.available) / self.restore_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """The shop's bucket as last reported, and when: enough to predict it later."""

    cost: QueryCost
    observed_at: datetime

    def available(self, now: datetime) -> float:
        elapsed = max(0.0, (now - self.observed_at).total_seconds())
        return min(self.cost.maximum, self.cost.available + elapsed * self.cost.restore_rate)

    def wait_for(self, needed: float, now: datetime) -> float:
        """Seconds to wait at ``now`` before a query of ``needed`` points would run; 0 when it
        fits. A query bigger than the whole bucket can never run: ``ValueError``."""
        if needed > self.cost.maximum:
            raise ValueError(
                f"a query of {needed:g} points never fits a bucket of {self.cost.maximum:g}"
            )
        return max(0.0, needed - self.available(now)) / self.cost.restore_rate
