"""Reading a connector kind's own config keys, shared by every platform's ``options`` module.

Errors are :class:`OptionError` naming the key relative to its table; the config loader adds
the file and the table's path, so ``check-config`` points at exactly what to fix.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

E = TypeVar("E", bound=enum.StrEnum)


class OptionError(ValueError):
    """A connector option is missing or wrong; ``key`` names it relative to its table."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def fail(key: str, message: str) -> NoReturn:
    raise OptionError(key, message)


def one_of(extra: Mapping[str, Any], key: str, allowed: type[E], default: E | None) -> E:
    """The enum member spelt by ``extra[key]``; ``default=None`` makes the key required."""
    value = extra.get(key, default.value if default is not None else None)
    for member in allowed:
        if value == member.value:
            return member
    choices = ", ".join(f'"{m.value}"' for m in allowed)
    problem = "required" if value is None else f"{value!r} is not valid"
    fail(key, f"{problem}: one of {choices}")
