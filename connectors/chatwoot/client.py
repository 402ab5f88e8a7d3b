"""One request attempt against Chatwoot's Application API. No retries here."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.errors import BadResponse
from connectors.http import TokenReader, get_json


class ChatwootClient:
    """Reads one account's conversations, messages and agents with a user access token."""

    def __init__(
        self,
        *,
        base_url: str,
        account_id: int,
        token: TokenReader,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._api = f"{self._base}/api/v1/accounts/{account_id}"
        self._token = token
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        body, _ = await get_json(
            self._http,
            f"{self._api}{path}",
            what=f"GET {path}",
            params=params,
            headers={"api_access_token": self._token(), "Accept": "application/json"},
        )
        return body

    async def server_info(self) -> Any:
        """``GET /api``: the server's ``version`` (no token needed; none is sent)."""
        body, response = await get_json(
            self._http,
            f"{self._base}/api",
            what="GET /api",
            headers={"Accept": "application/json"},
            allow_404=True,
        )
        if response.status_code == 404:
            raise BadResponse(
                "GET /api answered 404: no Chatwoot here to tell its version (check base_url)",
                field="version",
            )
        return body

    async def conversations(
        self, *, page: int | None, inbox_id: int | None, updated_within: int | None = None
    ) -> Any:
        """Conversations in every status and assignment, latest activity first: one page of
        25, or (``updated_within`` seconds, Chatwoot 3.7+) every one updated within that
        long, in one unpaginated answer."""
        params: dict[str, str | int] = {"status": "all", "assignee_type": "all"}
        if updated_within is not None:
            params["updated_within"] = updated_within
        if page is not None:
            params["page"] = page
        if inbox_id is not None:
            params["inbox_id"] = inbox_id
        return await self._get("/conversations", params)

    async def messages(self, conversation_id: str, *, before: int | None) -> Any:
        """The latest messages of a conversation, or those just before message ``before``."""
        params: dict[str, str | int] = {} if before is None else {"before": before}
        return await self._get(f"/conversations/{conversation_id}/messages", params)

    async def agents(self) -> Any:
        return await self._get("/agents")

    async def aclose(self) -> None:
        await self._http.aclose()
