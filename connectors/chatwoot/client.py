"""One request attempt against Chatwoot's Application API. No retries here."""

from __future__ import annotations

from typing import Any

import httpx

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
        self._api = f"{base_url.rstrip('/')}/api/v1/accounts/{account_id}"
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

    async def conversations(self, *, page: int, inbox_id: int | None) -> Any:
        """One page of conversations in every status and assignment, latest activity first."""
        params: dict[str, str | int] = {"status": "all", "assignee_type": "all", "page": page}
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
