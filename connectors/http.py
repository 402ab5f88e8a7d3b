"""HTTP plumbing every platform client shares: one attempt, errors mapped onto the tree.

Clients call :func:`get_json` once per request; the poller decides whether to retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.clock import utc_now
from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable

TokenReader = Callable[[], str]
"""Returns the current secret; called per request so a rotated token file is picked up."""


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After``: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utc_now())).total_seconds())


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Map an HTTP status onto the connector error tree."""
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise AuthFailed(f"{what}: HTTP {status}: credentials refused; check the token file")
    if status in (429, 503):
        raise RateLimited(
            f"{what}: HTTP {status}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status >= 500:
        raise Unavailable(f"{what}: HTTP {status}")
    raise BadResponse(f"{what}: unexpected HTTP {status}")


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    what: str,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    allow_404: bool = False,
) -> tuple[Any, httpx.Response]:
    """One GET attempt returning the decoded JSON body (``None`` for an allowed 404)."""
    try:
        response = await client.get(url, params=params, headers=headers)
    except httpx.TimeoutException as exc:
        raise Unavailable(f"{what}: timed out ({type(exc).__name__})") from exc
    except httpx.LocalProtocolError:
        # Its message quotes the offending header, which may be a credential: never repeat it.
        raise AuthFailed(
            f"{what}: the request's headers are invalid (a credential with a line break or "
            "control character?); check the token file"
        ) from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
    if allow_404 and response.status_code == 404:
        return None, response
    raise_for_status(response, what)
    try:
        return response.json(), response
    except ValueError as exc:
        raise BadResponse(f"{what}: body is not JSON") from exc
