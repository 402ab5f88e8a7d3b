"""HTTP plumbing every platform client shares: one attempt, errors mapped onto the tree,
and the connection pools of the process.

Clients call :func:`get_json` once per request; the poller decides whether to retry.
"""

from __future__ import annotations

import ssl
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


POOL_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=60)
"""Per host: enough for hundreds of shops polled every half minute (a request holds a
connection for milliseconds), few enough to be polite to one platform; idle connections are
kept a minute, so shops polled every 30 s reuse them rather than shake hands again."""


class HostPools:
    """One connection pool per host (scheme, host, port) for every source of a process.

    An agency's hundreds of shops on one platform then share a few connections and one TLS
    context, instead of two clients a shop, each with its own pool and its own TLS context
    (a third of a second and a megabyte or so to load the CA bundle, every time).
    :meth:`transport` gives a client a view of its host's pool that the client's
    ``aclose()`` leaves open (a reload closes the old sources while the new ones poll);
    the owner closes the pools with :meth:`aclose`."""

    def __init__(self, *, limits: httpx.Limits = POOL_LIMITS) -> None:
        self.limits = limits
        self._pools: dict[tuple[str, str, int | None], httpx.AsyncHTTPTransport] = {}
        self._tls: ssl.SSLContext | None = None

    def transport(self, url: str) -> httpx.AsyncBaseTransport:
        parsed = httpx.URL(url)
        key = (parsed.scheme, parsed.host, parsed.port)
        pool = self._pools.get(key)
        if pool is None:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()
            pool = httpx.AsyncHTTPTransport(verify=self._tls, limits=self.limits)
            self._pools[key] = pool
        return _Borrowed(pool)

    def __len__(self) -> int:
        return len(self._pools)

    async def aclose(self) -> None:
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            await pool.aclose()


class _Borrowed(httpx.AsyncBaseTransport):
    """A host's pool as one client sees it: closing the client leaves the pool open."""

    def __init__(self, pool: httpx.AsyncBaseTransport) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        pass
