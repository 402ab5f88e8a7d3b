"""A property of the whole HTTP API, on both databases: whatever a client sends — any
operation of the published description (/api/openapi.json), any parameters, any JSON or
not-JSON body, any credentials — the answer is never a 500, and every 4xx is JSON naming the
field to fix.

Hypothesis draws the requests from the OpenAPI document, so an endpoint added to the
contract is exercised here without a change. The daemon serves on a real listener; the
requests are made from a thread with a plain HTTP client.
"""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FakeClock

from .support import TOKEN, served

SPEC: dict[str, Any] = json.loads((resources.files("daemon") / "openapi.json").read_text())
OPERATIONS = sorted(
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
)

# Text a client can put in a URL or JSON (lone surrogates cannot be encoded at all).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
tricky = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "²",
        "-1",
        "0",
        "1001",
        str(2**63),
        str(10**40),
        "1e400",
        "Infinity",
        "NaN",
        "9999-12",
        "0000-00",
        "2026-11",
        "2026-11-02",
        "2026-11-02T09:00:00+08:00",
        "2026-11-02T09:00:00",
        "M201",
        "B203",
        "X901",
        "a1",
        "day",
        "open",
        "waived",
        "1-1",
        "99999999999999999-1",
        "R" * 17,
        "b" * 129,
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included: sent as the non-JSON tokens
    text,
    tricky,
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
)


Request = tuple[str, str, dict[str, str], bytes | None, dict[str, str | bytes]]


def schema_of(operation: dict[str, Any]) -> dict[str, Any]:
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    schema: dict[str, Any] = SPEC["components"]["schemas"][name]
    return schema


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method, path, operation = draw(st.sampled_from(OPERATIONS))
    params: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        value = draw(st.one_of(tricky, text))
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", quote(value, safe="") or "1")
        elif parameter.get("required") or draw(st.booleans()):
            params[parameter["name"]] = value
    body: bytes | None = None
    if "requestBody" in operation:
        keys = list(schema_of(operation)["properties"])
        shape = draw(st.sampled_from(["fields", "fields", "any", "raw"]))
        if shape == "raw":
            body = draw(st.binary(max_size=60))
        else:
            document: Any = (
                {key: draw(values) for key in keys if draw(st.booleans())}
                if shape == "fields"
                else draw(values)
            )
            body = json.dumps(document).encode()  # allow_nan: NaN, Infinity go out as such
    headers: dict[str, str | bytes] = {
        "Content-Type": draw(st.sampled_from(["application/json", "text/plain"]))
    }
    credentials = draw(st.sampled_from(["write", "write", "none", "wrong", "garbage"]))
    if credentials == "write":
        headers["Authorization"] = f"Bearer {TOKEN}"
    elif credentials == "wrong":
        printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
        headers["Authorization"] = "Bearer " + draw(st.text(printable, max_size=40))
    elif credentials == "garbage":  # anything HTTP allows in a header value (latin-1)
        visible = st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f")
        headers["Authorization"] = draw(st.text(visible, max_size=20)).encode("latin-1")
    return method, path, params, body, headers


def check_all(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:

        @settings(
            max_examples=250,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(requests())
        def no_500_and_every_4xx_names_its_field(
            request: Request,
        ) -> None:
            method, path, params, body, headers = request
            try:
                response = client.request(
                    method, path, params=params, content=body, headers=headers
                )
            except httpx.LocalProtocolError:
                return  # the client itself refused to send that header: nothing reached us
            status = response.status_code
            assert status < 500 or (path == "/readyz" and status == 503), (
                request,
                status,
                response.text[:300],
            )
            if 400 <= status < 500:
                answer = response.json()
                assert isinstance(answer.get("field"), str) and answer["field"], (
                    request,
                    answer,
                )

        no_500_and_every_4xx_names_its_field()


async def test_no_input_yields_a_500_and_every_refusal_names_its_field(
    tmp_path: Path, clock: FakeClock, database_url: str
) -> None:
    async with served(tmp_path, clock, database_url=database_url) as api:
        await asyncio.to_thread(check_all, api.base)


def test_the_published_description_covers_every_route() -> None:
    from prometheus_client import CollectorRegistry

    from daemon.http import Api, make_app

    app = make_app(Api.__new__(Api), CollectorRegistry())
    served_routes = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    described = {(method, path) for method, path, _ in OPERATIONS}
    assert served_routes == described
