"""Shopify GraphQL Admin API: orders and abandoned checkouts.

Shopify Inbox has no public API for conversations, so a Shopify shop reads its chat from a
helpdesk (e.g. Chatwoot). Shopify also has no seller memo or flag on an order; both come from a
shop convention configured per shop (see :class:`connectors.shopify.normalize.ShopifyRules`).
The REST Admin API (legacy since 2024-10) is not used.
"""
