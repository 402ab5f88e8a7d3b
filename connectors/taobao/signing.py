"""TOP request signatures (``sign_method`` = ``md5`` or ``hmac``).

Every parameter except ``sign`` (and file uploads, which shopwatch never sends) is sorted by
name and concatenated as ``name1value1name2value2…``; parameters with an empty value are left
out, as the official SDKs do. Then:

* ``md5``: MD5 of ``secret + concatenation + secret``;
* ``hmac``: HMAC-MD5 of the concatenation, keyed with the secret;

both as upper-case hex. ``hmac-sha256`` exists on the platform but no implementation of it was
read, so it is not offered.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping


class SignMethod(enum.StrEnum):
    MD5 = "md5"
    HMAC = "hmac"


def signing_string(params: Mapping[str, str]) -> str:
    """The sorted ``name value`` concatenation the signature covers."""
    pairs = sorted(params.items())
    return "".join(f"{name}{value}" for name, value in pairs if name != "sign" and value)


def sign(params: Mapping[str, str], secret: str, method: SignMethod) -> str:
    payload = signing_string(params)
    if method is SignMethod.MD5:
        digest = hashlib.md5(f"{secret}{payload}{secret}".encode()).hexdigest()
    else:
        digest = hmac.new(secret.encode(), payload.encode(), hashlib.md5).hexdigest()
    return digest.upper()
