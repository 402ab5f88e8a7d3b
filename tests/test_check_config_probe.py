"""``check-config --secrets`` asks each platform once whether it answers and accepts the
credentials (issue 17, point 3): against the built-in simulator, and against respx doubles of
Shopify (buyers withheld), Chatwoot (a refused token) and an unreachable WooCommerce."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from connectors.shopify import versions
from daemon.cli import main
from daemon.config.settings import load
from daemon.probe import probe
from daemon.simulator.world import World
from tests.connectors.support import load_fixture
from tests.daemon.shop import simulator

SHOPIFY = "https://demo.myshopify.com"
GRAPHQL = f"{SHOPIFY}/admin/api/{versions.PINNED}/graphql.json"
CHATWOOT = "https://chat.example.test"
WOO = "https://woo.example.test"
SECRET = "shpat_do_not_print_me"


def generic_config(directory: Path, url: str, token: str) -> Path:
    (directory / "token").write_text(token)
    streams = "".join(
        f'[shops.{stream}]\nkind = "generic"\nbase_url = "{url}"\ntoken_file = "token"\n'
        for stream in ("orders", "chat")
    )
    path = directory / "shopwatch.toml"
    path.write_text(f'[[shops]]\nid = "sim"\n{streams}')
    return path


async def test_the_simulator_answers_and_accepts_its_token(tmp_path: Path) -> None:
    async with simulator(World(), token="right") as url:
        good = load(generic_config(tmp_path, url, "right"))
        assert await probe(good) == ([], 2)
        wrong = load(generic_config(tmp_path, url, "wrong"))
        problems, ok = await probe(wrong)
    assert ok == 0
    assert [line.split(":")[0] for line in problems] == ["shops.sim.orders", "shops.sim.chat"]
    assert all("reachable, credentials refused: GET /" in line for line in problems)
    assert all("HTTP 401" in line and "wrong" not in line for line in problems)


def without_contacts() -> Any:
    """An orders page as an app without protected customer data access gets it."""
    body = copy.deepcopy(load_fixture("shopify", "orders_page1.json"))
    for node in body["data"]["orders"]["nodes"]:
        node["email"] = node["phone"] = None
        if node["customer"] is not None:
            node["customer"]["defaultEmailAddress"] = None
            node["customer"]["defaultPhoneNumber"] = None
    return body


PLATFORMS = f"""
[[shops]]
id = "one"
[shops.orders]
kind = "shopify"
base_url = "{SHOPIFY}"
token_file = "shopify-token"
memo_source = "tags"
memo_tag_prefix = "memo:"
[shops.chat]
kind = "chatwoot"
base_url = "{CHATWOOT}"
token_file = "chatwoot-token"
account_id = 1
buyer_key = "email"

[[shops]]
id = "two"
[shops.orders]
kind = "woocommerce"
base_url = "{WOO}"
token_file = "woo-key"
consumer_secret_file = "woo-secret"
[shops.chat]
kind = "chatwoot"
base_url = "{CHATWOOT}"
token_file = "chatwoot-token"
account_id = 1
buyer_key = "email"
"""


def platforms_config(directory: Path) -> Path:
    for name, value in (
        ("shopify-token", SECRET),
        ("chatwoot-token", "cw-token-value"),
        ("woo-key", "ck_value"),
        ("woo-secret", "cs_value"),
    ):
        (directory / name).write_text(value)
    path = directory / "shopwatch.toml"
    path.write_text(PLATFORMS)
    return path


def test_each_problem_is_one_line_naming_the_stream_and_the_exit_is_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = platforms_config(tmp_path)
    with respx.mock(assert_all_called=True) as platforms:
        shopify = platforms.post(GRAPHQL).mock(
            return_value=httpx.Response(200, json=without_contacts())
        )
        platforms.get(f"{CHATWOOT}/api").mock(
            return_value=httpx.Response(200, json={"version": "4.1.0"})
        )
        chatwoot = platforms.get(url__startswith=f"{CHATWOOT}/api/v1/").mock(
            return_value=httpx.Response(401, json={"error": "Invalid Access Token"})
        )
        platforms.get(url__startswith=WOO).mock(side_effect=httpx.ConnectError("refused"))
        assert main(["check-config", "--secrets", str(config)]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        "shops.one.orders",
        "shops.one.chat",
        "shops.two.orders",
        "shops.two.chat",
    ], "in the config's order"
    assert "shopify buyers not identified" not in out, "said once, as a line of the probe"
    by_stream = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines}
    assert by_stream["shops.one.orders"].startswith(
        "reachable, credentials accepted, but buyers are not identified: none of the"
    )
    assert "protected customer data" in by_stream["shops.one.orders"]
    assert 'buyer_key = "customer_id"' in by_stream["shops.one.orders"], "says what to do"
    for shop in ("one", "two"):  # one Chatwoot source, asked once, said for both shops
        assert by_stream[f"shops.{shop}.chat"].startswith("reachable, credentials refused")
    assert chatwoot.call_count == 1
    assert by_stream["shops.two.orders"].startswith("unreachable: ")
    assert shopify.call_count == 1, "one cheap request: the first page of orders only"
    assert "live probe: 0 streams reachable, credentials accepted" in out
    for secret in (SECRET, "cw-token-value", "ck_value", "cs_value"):
        assert secret not in out + err


def chatwoot_and_woocommerce_answer(platforms: respx.MockRouter) -> None:
    """The config's Chatwoot and WooCommerce answer as they should, with nothing in them."""
    platforms.get(f"{CHATWOOT}/api").mock(
        return_value=httpx.Response(200, json={"version": "4.1.0"})
    )
    platforms.get(url__startswith=f"{CHATWOOT}/api/v1/").mock(
        return_value=httpx.Response(200, json={"data": {"meta": {}, "payload": []}})
    )
    platforms.get(url__startswith=WOO).mock(
        return_value=httpx.Response(200, json=[], headers={"X-WP-TotalPages": "0"})
    )


def test_a_probe_that_passes_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = platforms_config(tmp_path)
    with respx.mock() as platforms:
        platforms.post(GRAPHQL).mock(
            return_value=httpx.Response(200, json=load_fixture("shopify", "orders_page1.json"))
        )
        chatwoot_and_woocommerce_answer(platforms)
        assert main(["check-config", "--secrets", str(config)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "live probe: 4 streams reachable, credentials accepted" in out


def test_an_export_directory_that_is_missing_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "token").write_text("t")
    config = tmp_path / "shopwatch.toml"
    config.write_text(
        '[[shops]]\nid = "tb"\n[shops.orders]\nkind = "generic"\nbase_url = "https://o.test"\n'
        f'token_file = "token"\n[shops.chat]\nkind = "files"\npath = "{tmp_path / "absent"}"\n'
    )
    with respx.mock() as platforms:
        platforms.get(url__startswith="https://o.test/").mock(
            return_value=httpx.Response(200, json={"orders": [], "next_page_token": None})
        )
        assert main(["check-config", "--secrets", str(config)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    absent = tmp_path / "absent"
    assert line == f"shops.tb.chat: the export directory {absent} does not exist" + (
        " (or is no directory)"
    )


def test_an_unexpected_fault_is_that_streams_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = platforms_config(tmp_path)
    with respx.mock() as platforms:
        platforms.post(GRAPHQL).mock(side_effect=RuntimeError("nobody mapped this"))
        chatwoot_and_woocommerce_answer(platforms)
        assert main(["check-config", "--secrets", str(config)]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "shops.one.orders: not probed: unexpected RuntimeError: nobody mapped this"
    ]
    assert "live probe: 3 streams reachable, credentials accepted" in out
