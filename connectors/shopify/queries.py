"""The GraphQL documents the connector sends, written for :data:`versions.PINNED`.

Only what the normaliser reads is selected, and the buyer's contact fields only for the
configured ``buyer_key``: with ``customer_id`` the queries ask for no e-mail address or phone
number at all, so they need no protected customer data access beyond level 1.

Cost (shopify.dev, "GraphQL Admin API rate limits"): a connection costs 2 plus ``first`` times
its node, an object 1, a scalar or enum 0. An order node here is the order, its money (2),
its customer and contact objects (1–2) and up to :data:`TRANSACTIONS` transactions: about a
dozen points, so a page of :data:`MAX_PAGE_SIZE` stays well inside Shopify's 1,000-point
limit for a single query and its 100-points-a-second restore on the smallest plan.
"""

from __future__ import annotations

from connectors.shopify.normalize import BuyerKey

MAX_PAGE_SIZE = 50
TRANSACTIONS = 5
"""Enough to find the first successful payment: an order's transactions come oldest first."""

ORDERS = "ShopwatchOrders"
CHECKOUTS = "ShopwatchAbandonedCheckouts"

_ORDER_CONTACT = {
    BuyerKey.EMAIL: "email customer { legacyResourceId defaultEmailAddress { emailAddress } }",
    BuyerKey.PHONE: "phone customer { legacyResourceId defaultPhoneNumber { phoneNumber } }",
    BuyerKey.CUSTOMER_ID: "customer { legacyResourceId }",
}
_CHECKOUT_CONTACT = {
    BuyerKey.EMAIL: "customer { legacyResourceId defaultEmailAddress { emailAddress } }",
    BuyerKey.PHONE: "customer { legacyResourceId defaultPhoneNumber { phoneNumber } }",
    BuyerKey.CUSTOMER_ID: "customer { legacyResourceId }",
}


def orders(buyer_key: BuyerKey) -> str:
    """Orders updated since ``$query``'s bound, oldest update first, a page at a time."""
    return f"""query {ORDERS}($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      legacyResourceId createdAt updatedAt cancelledAt closedAt
      displayFinancialStatus displayFulfillmentStatus
      note customAttributes {{ key value }} tags
      totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
      transactions(first: {TRANSACTIONS}) {{ kind status processedAt createdAt }}
      {_ORDER_CONTACT[buyer_key]}
    }}
  }}
}}"""


def abandoned_checkouts(buyer_key: BuyerKey) -> str:
    """Abandoned (and recovered) checkouts updated since ``$query``'s bound. There is no
    ``UPDATED_AT`` sort key for them: they come in id order, and every page is read."""
    return f"""query {CHECKOUTS}($first: Int!, $after: String, $query: String!) {{
  abandonedCheckouts(first: $first, after: $after, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id createdAt updatedAt completedAt
      totalPriceSet {{ shopMoney {{ amount currencyCode }} }}
      {_CHECKOUT_CONTACT[buyer_key]}
    }}
  }}
}}"""


def updated_since(bound: str) -> str:
    """The search filter: ``updated_at:>='2025-03-01T01:00:00Z'`` (inclusive)."""
    return f"updated_at:>='{bound}'"
