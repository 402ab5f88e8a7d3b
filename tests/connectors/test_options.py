"""A connector's own keys are read by the config's one options reader, into its typed options."""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.chatwoot.options import ChatwootOptions
from connectors.model import OrderStatus
from connectors.options import OptionError, required
from connectors.woocommerce.normalize import BuyerKey
from connectors.woocommerce.options import WooCommerceOptions
from daemon.config.options import options_from_table
from daemon.config.settings import Settings, parse
from daemon.config.toml_table import ConfigError, TomlTable

SHOP = """
[[shops]]
id = "woo"
[shops.orders]
kind = "woocommerce"
base_url = "https://shop.example.test"
token_file = "woo-key"
consumer_secret_file = "secrets/woo-secret"
{orders}
[shops.chat]
kind = "chatwoot"
base_url = "https://chat.example.test"
token_file = "chatwoot-token"
account_id = 1
buyer_key = "email"
"""


def settings(orders: str = "") -> Settings:
    text = SHOP.replace("{orders}", orders)
    return parse(tomllib.loads(text), "test.toml", Path("/etc/shopwatch"))


def refusal(orders: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        settings(orders)
    return caught.value


def test_a_stream_carries_its_kinds_typed_options_and_secret_paths() -> None:
    (shop,) = settings(
        'buyer_key = "customer_id"\nstatus_map = { "wc-awaiting-shipment" = "paid" }\n'
        "memo_recheck_hours = 48"
    ).shops
    assert shop.orders.options == WooCommerceOptions(
        consumer_secret_file="secrets/woo-secret",
        buyer_key=BuyerKey.CUSTOMER_ID,
        status_map={"wc-awaiting-shipment": OrderStatus.PAID},
        memo_recheck_hours=48,
    )
    assert shop.orders.options.rules().status_map == {"awaiting-shipment": OrderStatus.PAID}
    assert shop.orders.secret_files == {
        "consumer_secret_file": Path("/etc/shopwatch/secrets/woo-secret")
    }
    assert shop.chat.options == ChatwootOptions(account_id=1, buyer_key=BuyerKey.EMAIL)
    assert shop.chat.secret_files == {}


def test_an_unknown_key_names_the_kinds_own_keys() -> None:
    error = refusal('memo_recheck = "24h"')
    assert error.key == "shops[0].orders.memo_recheck"
    assert error.message == (
        "unknown key for kind 'woocommerce' (its own keys: buyer_key, consumer_secret_file, "
        "flag_meta_key, memo_prefix, memo_recheck_hours, status_map)"
    )


@pytest.mark.parametrize(
    ("orders", "key", "says"),
    [
        ('consumer_secret = "cs_live"', "consumer_secret", "set consumer_secret_file"),
        ('token = "ck_live"', "token", "set token_file"),
        ('status_map = { "shipped" = "sent" }', "status_map.shipped", '"shipped"'),
        ("memo_recheck_hours = 169", "memo_recheck_hours", "0–168"),
        ("memo_recheck_hours = true", "memo_recheck_hours", "whole number"),
        ('flag_meta_key = " "', "flag_meta_key", "non-empty"),
    ],
)
def test_a_bad_key_is_named_with_its_table(orders: str, key: str, says: str) -> None:
    error = refusal(orders)
    assert error.key == f"shops[0].orders.{key}"
    assert says in error.message


# ---- the reader itself, on a made-up options type -----------------------------------------


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, kw_only=True)
class Made:
    name: str = field(metadata=required("what to call it"))
    colour: Colour = Colour.RED
    count: int | None = None
    tags: tuple[str, ...] = ()
    every: timedelta = timedelta(minutes=5)
    on: bool = True
    limits: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.count == 13:
            raise OptionError("count", "unlucky")


def made(keys: dict[str, Any]) -> Made:
    return options_from_table(Made, TomlTable(keys, "made", "test.toml"))


def made_error(keys: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        made(keys)
    return caught.value


def test_each_field_is_converted_by_its_type() -> None:
    assert made(
        {
            "name": " box ",
            "colour": "blue",
            "count": 3,
            "tags": ["a", "b"],
            "every": "1h",
            "on": False,
            "limits": {"x": 1},
        }
    ) == Made(
        name="box",
        colour=Colour.BLUE,
        count=3,
        tags=("a", "b"),
        every=timedelta(hours=1),
        on=False,
        limits={"x": 1},
    )
    assert made({"name": "box"}) == Made(name="box")


@pytest.mark.parametrize(
    ("keys", "key", "message"),
    [
        ({}, "made.name", "required: what to call it"),
        (
            {"name": "b", "colour": "green"},
            "made.colour",
            '\'green\' is not valid: one of "red", "blue"',
        ),
        ({"name": "b", "count": -1}, "made.count", "expected a whole number ≥ 0"),
        ({"name": "b", "count": 13}, "made.count", "unlucky"),
        ({"name": "b", "tags": "a"}, "made.tags", "expected a list"),
        ({"name": "b", "tags": ["a", ""]}, "made.tags", "entry 2: expected a non-empty string"),
        ({"name": "b", "every": 5}, "made.every", "duration"),
        ({"name": "b", "on": "yes"}, "made.on", "expected true or false"),
        ({"name": "b", "limits": {"x": "1"}}, "made.limits.x", "whole number"),
        ({"name": "b", "limits": 1}, "made.limits", "expected a table"),
        ({"name": "b", "colours": "red"}, "made.colours", "unknown key (known here: colour,"),
    ],
)
def test_each_refusal_names_its_key(keys: dict[str, Any], key: str, message: str) -> None:
    error = made_error(keys)
    assert error.key == key
    assert message in error.message
