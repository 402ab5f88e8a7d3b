"""One buyer, one ``buyer_id``, even when orders and chat come from different platforms.

The checks pair an order with chat messages only by ``buyer_id`` (CS101: "an agent message to
the same buyer"). When a shop reads orders from Shopify and chat from Chatwoot, the two
platforms know the same person by different records, so both connectors derive the id from a
value both records carry — the e-mail address, the phone number, or an id the shop
deliberately copies from one platform to the other — and run it through the same normalizer
here. ``Ana.Li@Example.com `` on an order and ``ana.li@example.com`` on a chat contact then
become the same buyer.

A buyer that lacks the configured value gets a platform-local id (:func:`local`) that can never
match anything on another platform: a missed pairing can only make a check undecidable or
strict for that buyer, never pair two different people.
"""

from __future__ import annotations

import unicodedata

from connectors.wire import ID_MAX

PHONE_PREFIX = "tel:"
"""Phone ids are marked so that a digits-only phone never equals a numeric customer id."""

MIN_PHONE_DIGITS = 5


def email(raw: object) -> str | None:
    """``" Ana.Li@Example.COM "`` → ``"ana.li@example.com"``; ``None`` when not an address.

    The whole address is lower-cased: the local part is case-sensitive in theory, but no shop
    platform treats it so, and two records of one buyer often differ only in case.
    """
    if not isinstance(raw, str):
        return None
    value = unicodedata.normalize("NFKC", raw).strip().lower()
    value = value.removeprefix("mailto:")
    local_part, at, domain = value.partition("@")
    if not at or not local_part or not domain or any(ch.isspace() for ch in value):
        return None
    return _kept(value)


def phone(raw: object) -> str | None:
    """``"+86 138-0000 0000"`` → ``"tel:8613800000000"``; ``None`` when too short to be one.

    Only the digits are kept (full-width digits are folded first), so spacing, dashes and a
    leading ``+`` do not matter. A national number and its international form still differ
    (``138…`` vs ``86138…``): store phones in one form (E.164) on both platforms.
    """
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    folded = unicodedata.normalize("NFKC", str(raw))
    digits = "".join(ch for ch in folded if "0" <= ch <= "9")
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    return _kept(PHONE_PREFIX + digits)


def shared_id(raw: object) -> str | None:
    """An id the shop copies between platforms on purpose (e.g. the Shopify customer id set as
    the Chatwoot contact ``identifier``): kept as is, only trimmed; numbers become strings."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if not isinstance(raw, str):
        return None
    return _kept(raw.strip())


def _kept(value: str) -> str | None:
    """``value`` if the store keeps a buyer id that long: a longer one identifies nobody (the
    record gets a platform-local id), rather than failing the write on PostgreSQL."""
    return value if value and len(value) <= ID_MAX else None


def local(platform: str, record: str, record_id: object) -> str:
    """A platform-local buyer id (``"chatwoot:contact:55"``) that never pairs across platforms."""
    return f"{platform}:{record}:{record_id}"
