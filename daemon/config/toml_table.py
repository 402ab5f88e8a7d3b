"""Strict reading of a TOML table: every key is either read or an error naming it.

Shared by the daemon's config (:mod:`daemon.config.settings`) and the policy catalogue
(:mod:`daemon.scoring.policy_file`), so both files answer a misspelt key the same way: with the
file, the dotted key and what is known there.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from daemon.config.durations import parse_duration

T = TypeVar("T")


class ConfigError(Exception):
    """A config problem, naming the file and the dotted key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")
        self.file = file
        self.key = key
        self.message = message


class TomlTable:
    """A TOML table being read: remembers which keys were used, so leftovers are errors.

    ``error`` is the ConfigError subclass raised, so each file's errors say which file."""

    def __init__(
        self,
        data: Mapping[str, Any],
        path: str,
        file: str,
        error: type[ConfigError] = ConfigError,
    ) -> None:
        if not isinstance(data, Mapping):
            raise error(file, path, "expected a table")
        self.data = data
        self.path = path
        self.file = file
        self.error_type = error
        self.used: set[str] = set()

    def child(self, data: Any, path: str) -> TomlTable:
        return TomlTable(data, path, self.file, self.error_type)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> ConfigError:
        return self.error_type(self.file, self.key(name), message)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = dataclasses.MISSING) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is dataclasses.MISSING:
                raise self.error(name, "is required")
            return default
        return self.data[name]

    def get(self, name: str, convert: Callable[[Any], T], default: Any = dataclasses.MISSING) -> T:
        value = self.raw(name, default)
        if value is default and default is not dataclasses.MISSING:
            return typing.cast(T, value)
        try:
            return convert(value)
        except (ValueError, TypeError, InvalidOperation) as exc:
            raise self.error(name, str(exc)) from None

    def table(self, name: str, *, required: bool = True) -> TomlTable:
        value = self.raw(name, dataclasses.MISSING if required else {})
        return self.child(value, self.key(name))

    def tables(self, name: str) -> list[TomlTable]:
        value = self.raw(name, [])
        if not isinstance(value, list):
            raise self.error(name, "expected an array of tables, e.g. [[" + self.key(name) + "]]")
        return [self.child(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def items(self) -> list[tuple[str, TomlTable]]:
        """Every key as a sub-table (for tables keyed by code); all count as read."""
        self.used.update(self.data)
        return [(name, self.child(value, self.key(name))) for name, value in self.data.items()]

    def rest(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k not in self.used}

    def finish(self, *, hint: str = "") -> None:
        for name in self.data:
            if name not in self.used:
                known = ", ".join(sorted(self.used))
                raise self.error(name, f"unknown key (known here: {known}){hint}")


def read_toml(path: Path | Traversable, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """The file's TOML document; a missing file or bad TOML is ``error`` naming the file.

    ``path`` may be a file shipped inside the package (``importlib.resources.files``)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(str(path), "", "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(str(path), "", f"not valid TOML: {exc}") from None


# ---- value converters: each raises ValueError/TypeError with a message for people ----


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected true or false")
    return value


def whole_number(value: Any) -> int:
    """A whole number ≥ 0 (true and false are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError("expected a whole number ≥ 0")
    return value


def integer(value: Any) -> int:
    """A whole number, negative ones too."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected a whole number")
    return value


def count(value: Any) -> int:
    """A whole number ≥ 1 (how many times, how many months)."""
    result = integer(value)
    if result < 1:
        raise ValueError("expected a whole number ≥ 1")
    return result


def amount(value: Any) -> Decimal:
    """A number ≥ 0, kept exact (money, points, rates)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError("expected a number")
    result = Decimal(str(value))
    if not result.is_finite() or result < 0:
        raise ValueError("expected a finite number ≥ 0")
    return result


def amounts(value: Any) -> tuple[Decimal, ...]:
    """A non-empty list of :func:`amount` values."""
    if not isinstance(value, list) or not value:
        raise TypeError("expected a non-empty list of numbers")
    return tuple(amount(v) for v in value)


def fraction(value: Any) -> Decimal:
    """A number from 0 to 1 (a rate: 0.7 for 70 %)."""
    result = amount(value)
    if result > 1:
        raise ValueError("expected a fraction between 0 and 1, e.g. 0.7 for 70 %")
    return result


def one_of(options: tuple[str, ...]) -> Callable[[Any], str]:
    """A converter that accepts exactly one of ``options``."""

    def convert(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return str(value)

    return convert


def duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise TypeError('expected a duration string such as "30s", "60m" or "24h"')
    return parse_duration(value)


def positive_duration(value: Any) -> timedelta:
    result = duration(value)
    if result <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return result
