"""WooCommerce REST API v3: orders only.

WooCommerce has no chat; a WooCommerce shop reads its chat from a helpdesk (e.g. Chatwoot).
Its seller memo is the shop's private order notes, read per order from the notes endpoint.
"""
