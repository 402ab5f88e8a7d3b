"""One error tree for every connector, so the poller can decide what to do by type alone.

A client raises exactly one of these per failed attempt; only the poller retries.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector failure. ``reason`` is the bounded metric label."""

    reason = "error"


class Unavailable(ConnectorError):
    """Network error, timeout or 5xx: worth retrying with backoff."""

    reason = "unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Unavailable):
    """The platform asked us to slow down (429, 503 with Retry-After, a throttling code)."""

    reason = "rate_limited"


class AuthFailed(ConnectorError):
    """Credentials were refused (401/403 or the platform's equivalent): fatal for that shop."""

    reason = "auth"


class BadResponse(ConnectorError):
    """A response that does not match the documented shape: the page is rejected whole.

    ``field`` names the offending field (``orders[3].paid_at``) so the log line is actionable.
    """

    reason = "bad_response"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message
        """The message without the field, for a report that names the field apart."""


class Unsupported(ConnectorError):
    """The platform cannot provide what was asked (e.g. presence on a platform without it)."""

    reason = "unsupported"
