"""One request attempt against the Shopify GraphQL Admin API. No retries here.

``POST {shop}/admin/api/{version}/graphql.json`` with the ``X-Shopify-Access-Token`` header.
GraphQL reports most failures with HTTP 200 and an ``errors`` array; they are mapped onto the
connector error tree by their ``extensions.code``:

    THROTTLED                     → RateLimited, retry after the bucket holds the query's cost
    ACCESS_DENIED on a whole list → AuthFailed (a missing access scope or permission)
    ACCESS_DENIED inside a record → tolerated: the field is withheld (protected customer data);
                                    the record reads it as absent, the answer names the paths
    MAX_COST_EXCEEDED             → BadResponse naming page_size
    INTERNAL_SERVER_ERROR         → Unavailable
    anything else                 → BadResponse (the query does not fit the called version)

HTTP 401/403 are refused credentials, 429 and 503 are rate limited (for ``Retry-After``, or
else for what the cost report says), other 5xx unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable
from connectors.http import TokenReader, raise_for_status, retry_after_seconds
from connectors.shopify.throttle import QueryCost

MIN_RETRY_AFTER = 1.0
"""A throttled query is retried after at least this long, even when the report says less."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    data: Mapping[str, Any]
    cost: QueryCost | None
    withheld: tuple[str, ...] = ()
    """Paths of fields Shopify refused to show (``orders.nodes.0.customer``): protected
    customer data the app has no access to."""


def _path(error: Mapping[str, Any]) -> list[Any]:
    path = error.get("path")
    return path if isinstance(path, list) else []


def _code(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    return code if isinstance(code, str) else ""


def _message(error: Mapping[str, Any]) -> str:
    message = error.get("message")
    return (message if isinstance(message, str) else repr(error))[:300]


def _inside_a_record(path: list[Any]) -> bool:
    """``["orders", "nodes", 3, "customer", …]``: a field of one listed record."""
    return len(path) >= 4 and path[1] == "nodes" and isinstance(path[2], int)


def throttled_for(cost: QueryCost | None) -> float | None:
    """Seconds until a throttled query would fit, from its cost report."""
    if cost is None:
        return None
    return max(MIN_RETRY_AFTER, cost.seconds_until(cost.requested))


def _raise_for_errors(errors: Any, data: Any, cost: QueryCost | None, what: str) -> tuple[str, ...]:
    """Raise the error the ``errors`` array means; return the withheld paths it tolerates."""
    if errors is None:
        return ()
    if not isinstance(errors, list) or not all(isinstance(e, Mapping) for e in errors):
        raise BadResponse(f"{what}: errors is not a list of objects", field="errors")
    codes = [_code(e) for e in errors]
    if "THROTTLED" in codes:
        available = f"{cost.available:g} of {cost.maximum:g}" if cost else "unknown"
        needed = f"{cost.requested:g}" if cost else "unknown"
        raise RateLimited(
            f"{what}: THROTTLED: the query needs {needed} points, the bucket holds {available}",
            retry_after=throttled_for(cost),
        )
    withheld: list[str] = []
    for error, code in zip(errors, codes, strict=True):
        path = _path(error)
        if code == "ACCESS_DENIED" and _inside_a_record(path) and isinstance(data, Mapping):
            withheld.append(".".join(str(part) for part in path))
            continue
        detail = f"{code}: {_message(error)}" if code else _message(error)
        if code == "ACCESS_DENIED":
            raise AuthFailed(
                f"{what}: {detail} — the app lacks an access scope or permission: it needs "
                "read_orders (and, for orders older than 60 days, read_all_orders)"
            )
        if code == "MAX_COST_EXCEEDED":
            raise BadResponse(
                f"{what}: {detail} — lower page_size for this stream", field="page_size"
            )
        if code == "INTERNAL_SERVER_ERROR":
            raise Unavailable(f"{what}: {detail}")
        where = ".".join(str(part) for part in path) or "errors"
        raise BadResponse(f"{what}: {detail}", field=where)
    return tuple(withheld)


class ShopifyClient:
    """Sends GraphQL documents with an Admin API access token."""

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        token: TokenReader,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._token = token
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self.cost: QueryCost | None = None
        """The bucket as the latest answer reported it (throttled answers included)."""

    async def query(self, document: str, variables: Mapping[str, Any], *, what: str) -> Answer:
        """One attempt: the answer's ``data``, or the error it means."""
        headers = {
            "X-Shopify-Access-Token": self._token(),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        body = {"query": document, "variables": dict(variables)}
        self.cost = None
        try:
            response = await self._http.post(self._url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{what}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        payload = self._decode(response)
        self.cost = QueryCost.parse(payload.get("extensions") if payload else None)
        if response.status_code == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise RateLimited(
                f"{what}: HTTP 429",
                retry_after=retry_after if retry_after is not None else throttled_for(self.cost),
            )
        raise_for_status(response, what)
        if payload is None:
            raise BadResponse(f"{what}: body is not a JSON object")
        data = payload.get("data")
        withheld = _raise_for_errors(payload.get("errors"), data, self.cost, what)
        if not isinstance(data, Mapping):
            raise BadResponse(f"{what}: no data and no errors", field="data")
        return Answer(data=data, cost=self.cost, withheld=withheld)

    @staticmethod
    def _decode(response: httpx.Response) -> Mapping[str, Any] | None:
        try:
            payload = response.json()
        except ValueError:
            return None
        return payload if isinstance(payload, Mapping) else None

    async def aclose(self) -> None:
        await self._http.aclose()
