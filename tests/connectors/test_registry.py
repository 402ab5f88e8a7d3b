"""Every platform kind is registered with the streams it can serve."""

from __future__ import annotations

import dataclasses

import pytest

from connectors.model import Stream
from connectors.registry import KINDS, OptionError, lookup


@pytest.mark.parametrize(
    ("name", "streams"),
    [
        ("taobao", {Stream.ORDERS}),
        ("shopify", {Stream.ORDERS}),
        ("woocommerce", {Stream.ORDERS}),
        ("chatwoot", {Stream.CHAT}),
        ("files", {Stream.CHAT}),
        ("generic", {Stream.ORDERS, Stream.CHAT}),
    ],
)
def test_kinds_serve_their_streams(name: str, streams: set[Stream]) -> None:
    assert KINDS[name].streams == streams
    for stream in streams:
        assert lookup(name, stream).name == name


@pytest.mark.parametrize(
    "name", ["generic", "taobao", "shopify", "woocommerce", "chatwoot", "files"]
)
def test_options_are_frozen_keyword_only_dataclasses(name: str) -> None:
    options_type = KINDS[name].options_type
    assert options_type.__dataclass_params__.frozen
    assert all(f.kw_only for f in dataclasses.fields(options_type))


@pytest.mark.parametrize("name", ["taobao", "shopify", "woocommerce", "chatwoot"])
def test_secret_keys_are_file_paths(name: str) -> None:
    keys = {f.name for f in dataclasses.fields(KINDS[name].options_type)}
    secrets = {key for key in keys if "secret" in key or "token" in key}
    assert all(key.endswith("_file") for key in secrets)


def test_an_order_only_kind_names_the_chat_kinds() -> None:
    with pytest.raises(OptionError) as caught:
        lookup("woocommerce", Stream.CHAT)
    assert "Kinds that can: chatwoot, files, generic" in caught.value.message


def test_only_the_files_kind_reads_no_endpoint() -> None:
    assert [name for name, kind in KINDS.items() if not kind.endpoint] == ["files"]
