"""One signed request attempt against the TOP gateway. No retries here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from connectors.clock import Clock, utc_now
from connectors.errors import BadResponse, Unavailable
from connectors.http import TokenReader, raise_for_status
from connectors.taobao import envelope, localtime
from connectors.taobao.signing import SignMethod, sign


class TaobaoClient:
    """Calls TOP API methods with the seller's session, one POST per call.

    POST with a form body rather than GET: the seller's session token then never lands in a
    URL, where proxies and httpx's own request log would record it.
    """

    def __init__(
        self,
        *,
        gateway_url: str,
        app_key: str,
        app_secret: TokenReader,
        session: TokenReader,
        sign_method: SignMethod = SignMethod.MD5,
        timeout: float = 30.0,
        clock: Clock = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = gateway_url
        self._app_key = app_key
        self._app_secret = app_secret
        self._session = session
        self._sign_method = sign_method
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    def signed_form(self, method: str, params: Mapping[str, str]) -> dict[str, str]:
        """The complete form of one call: common parameters, ``params`` and the signature."""
        form = {
            "method": method,
            "app_key": self._app_key,
            "session": self._session(),
            "timestamp": localtime.render(self._clock()),
            "v": "2.0",
            "sign_method": self._sign_method.value,
            "format": "json",
            **params,
        }
        form["sign"] = sign(form, self._app_secret(), self._sign_method)
        return form

    async def call(self, method: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """The object under the method's ``…_response`` root; errors per :mod:`envelope`."""
        what = f"TOP {method}"
        try:
            response = await self._http.post(
                self._url,
                data=self.signed_form(method, params),
                headers={"Accept": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{what}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        raise_for_status(response, what)
        try:
            body = response.json()
        except ValueError as exc:
            raise BadResponse(f"{what}: body is not JSON") from exc
        return envelope.unwrap(method, body)

    async def aclose(self) -> None:
        await self._http.aclose()
