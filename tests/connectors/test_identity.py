"""Buyer identity across platforms: both sides normalize the same value the same way."""

from __future__ import annotations

from typing import Any

import pytest

from connectors import identity
from connectors.chatwoot.normalize import BuyerKey as ChatBuyerKey
from connectors.chatwoot.normalize import conversations
from connectors.model import Order
from connectors.shopify.normalize import BuyerKey as ShopBuyerKey
from connectors.shopify.normalize import MemoSource, ShopifyRules, order
from connectors.woocommerce.normalize import WooRules
from connectors.woocommerce.normalize import order as woo_order
from tests.connectors.support import load_fixture


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ana.Li@Example.COM ", "ana.li@example.com"),
        ("mailto:ana.li@example.com", "ana.li@example.com"),
        ("ａｎａ@example.com", "ana@example.com"),  # full-width letters folded
        ("not an address", None),
        ("@example.com", None),
        ("ana@", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_email(raw: Any, expected: str | None) -> None:
    assert identity.email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+86 138-0000 0000", "tel:8613800000000"),
        ("(86) 138 0000 0000", "tel:8613800000000"),
        ("＋８６１３８００００００００", "tel:8613800000000"),  # full-width digits folded
        (8613800000000, "tel:8613800000000"),
        ("ext. 12", None),
        ("", None),
        (None, None),
        (True, None),
    ],
)
def test_phone(raw: Any, expected: str | None) -> None:
    assert identity.phone(raw) == expected


def test_shared_ids_are_kept_but_trimmed() -> None:
    assert identity.shared_id(" 7001234567890 ") == "7001234567890"
    assert identity.shared_id(7001234567890) == "7001234567890"
    assert identity.shared_id("  ") is None
    assert identity.shared_id(False) is None


def test_a_phone_never_equals_a_numeric_customer_id() -> None:
    assert identity.phone("7001234567890") != identity.shared_id(7001234567890)


def test_local_ids_name_their_platform() -> None:
    assert identity.local("chatwoot", "contact", 55) == "chatwoot:contact:55"


def chat_buyer(key: ChatBuyerKey, conversation_id: str) -> str:
    listed = conversations(load_fixture("chatwoot", "conversations_page1.json"), key)
    return next(c.buyer_id for c in listed if c.id == conversation_id)


def shopify_order(rules: ShopifyRules) -> Order:
    raw = load_fixture("shopify", "orders_page1.json")["data"]["orders"]["nodes"][0]
    return order(raw, "orders.nodes[0]", rules)


def test_a_shopify_buyer_and_a_chatwoot_contact_pair_by_e_mail() -> None:
    found = shopify_order(ShopifyRules(memo_source=MemoSource.TAGS, memo_tag_prefix="m:"))
    # "ana.li@example.com" on Shopify, " Ana.Li@Example.com" on the Chatwoot contact.
    assert found.buyer_id == chat_buyer(ChatBuyerKey.EMAIL, "412")


def test_a_woocommerce_buyer_and_a_chatwoot_contact_pair_by_e_mail() -> None:
    raw = load_fixture("woocommerce", "orders_page1.json")[0]
    # "Ana.Li@Example.com" in WooCommerce billing.
    assert woo_order(raw, "orders[0]", WooRules()).buyer_id == chat_buyer(ChatBuyerKey.EMAIL, "412")


def test_a_shopify_customer_id_pairs_with_a_contact_identifier_set_to_it() -> None:
    rules = ShopifyRules(
        memo_source=MemoSource.TAGS, memo_tag_prefix="m:", buyer_key=ShopBuyerKey.CUSTOMER_ID
    )
    assert shopify_order(rules).buyer_id == chat_buyer(ChatBuyerKey.IDENTIFIER, "412")


def test_an_id_longer_than_the_store_keeps_identifies_nobody() -> None:
    """A buyer id the store's columns cannot keep would fail the write on PostgreSQL: it
    identifies nobody instead (the record gets a platform-local id)."""
    assert identity.email("a" * 120 + "@example.com") is None
    assert identity.email("a" * 100 + "@example.com") == "a" * 100 + "@example.com"
    assert identity.shared_id("x" * 129) is None
    assert identity.phone("1" * 130) is None
