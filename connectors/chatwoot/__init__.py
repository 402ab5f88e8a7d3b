"""Chatwoot (open-source helpdesk): chat only — conversations, messages and agent presence.

Chatwoot has no orders; pair it with an order source (Shopify, WooCommerce, Taobao, generic)
and make both derive ``buyer_id`` from the same value (see :mod:`connectors.identity`).
"""
