"""TOP response envelopes: the success root and the HTTP-200 ``error_response``, mapped onto
the connector error tree. Pure.

TOP reports API errors in the body of an HTTP 200, so the status mapping of
:mod:`connectors.http` never sees them; this module is where they become the same errors.
Codes below 100 are platform-level and documented; anything else is named in a BadResponse so
the log line carries the platform's own code and message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectors.errors import AuthFailed, BadResponse, RateLimited, Unavailable

AUTH_CODES = {
    11: "insufficient ISV permissions: the app lacks permission for this API",
    25: "invalid signature: check app_secret_file and sign_method",
    26: "missing session: check token_file",
    27: "invalid session: the seller's session expired or was revoked; authorise the app again",
    28: "missing app key: check app_key",
    29: "invalid app key: check app_key",
}
THROTTLE_CODES = frozenset({4, 5, 6, 7, 8})
"""User, session, partner and app call limits (7 = "App Call Limited", 8 = frequency)."""
REMOTE_ERROR = 15
TRADE_SERVICE_REJECTION = 520
TRADE_SERVICE_BACKOFF = 180.0
"""Code 520 says "too many timeouts, shorten the time window, retry in 3 minutes"."""

_BAN_SECONDS = re.compile(r"ban will last (?:for )?(\d+)(?: more)? seconds?", re.IGNORECASE)


def root_key(method: str) -> str:
    """``taobao.trades.sold.increment.get`` → ``trades_sold_increment_get_response``."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


def ban_seconds(text: str) -> float | None:
    """N from "This ban will last for N more seconds", the throttling code's sub_msg."""
    match = _BAN_SECONDS.search(text)
    return float(match.group(1)) if match else None


def unwrap(method: str, body: Any) -> Mapping[str, Any]:
    """The object under the method's success root, or the error the envelope describes."""
    if not isinstance(body, Mapping):
        raise BadResponse("response body is not a JSON object")
    error = body.get("error_response")
    if error is not None:
        raise error_from(method, error)
    root = root_key(method)
    content = body.get(root)
    if not isinstance(content, Mapping):
        raise BadResponse("missing or not an object", field=root)
    return content


def error_from(method: str, error: Any) -> Exception:
    if not isinstance(error, Mapping):
        return BadResponse("expected an object", field="error_response")
    code = error.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    sub_code = str(error.get("sub_code") or "")
    sub_msg = str(error.get("sub_msg") or "")
    described = (
        f"{method}: TOP error {code} {error.get('msg') or ''}"
        f" ({sub_code or 'no sub_code'}: {sub_msg or 'no sub_msg'})"
    )
    if isinstance(code, int) and code in AUTH_CODES:
        return AuthFailed(f"{described}: {AUTH_CODES[code]}")
    if isinstance(code, int) and code in THROTTLE_CODES:
        return RateLimited(described, retry_after=ban_seconds(sub_msg))
    if code == TRADE_SERVICE_REJECTION:
        return RateLimited(
            f"{described}: lower window_minutes if this repeats",
            retry_after=ban_seconds(sub_msg) or TRADE_SERVICE_BACKOFF,
        )
    if code == REMOTE_ERROR or sub_code.startswith("isp."):
        return Unavailable(described)
    return BadResponse(described, field="error_response.code")
