"""What every connector kind's options type shares: its error and its "required" note.

Each platform declares its own keys as a frozen, keyword-only dataclass (``options.py`` in the
platform's package). The daemon's config reads a stream table into it by field type, as it does
for rule options: ``str`` (non-empty, trimmed), ``int`` (≥ 0), ``bool``, a ``StrEnum`` (by its
values), ``tuple[str, ...]`` (a list), ``Mapping[str, X]`` (a table), ``timedelta`` (``"30m"``)
and optional forms of these. A field without a default is a required key; its
``metadata=required("…")`` says what to write there. Range and cross-field checks live in the
dataclass's ``__post_init__`` and raise :class:`OptionError` naming the key.

A secret never has a field of its own: a ``*_file`` field names the file holding it, and the
config refuses the secret written inline under the name without ``_file``.
"""

from __future__ import annotations

REQUIRED = "required"
"""The field metadata key holding what a required key means (see :func:`required`)."""


class OptionError(ValueError):
    """A connector option is missing or wrong; ``key`` names it relative to its table."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def required(meaning: str) -> dict[str, str]:
    """Field metadata for a required key: ``field(metadata=required("the App Key …"))``
    makes a missing key read ``required: the App Key …``."""
    return {REQUIRED: meaning}
