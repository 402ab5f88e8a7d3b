"""Typed options from their TOML table: one path for rule options and connector options.

A ``[rules.CSxxx]`` table and a connector's stream table are read the same way: each key is a
field of the owner's frozen, keyword-only options dataclass, converted by the field's type, so
the dataclass is its own validation::

    bool                 true / false
    int                  a whole number ≥ 0
    Decimal              a number ≥ 0, kept exact
    str                  non-empty text, trimmed
    timedelta            a duration, "30s", "1h30m"
    a StrEnum            one of its values (the message lists them)
    tuple[X, ...]        a list of X
    Mapping[str, X]      a table of X (a bad entry is named: ``status_map.shipped``)
    X | None             X, or the key left out

A field without a default is a required key; ``connectors.options.required`` metadata says what
to write there. The dataclass's ``__post_init__`` does range and cross-field checks: an
:class:`~connectors.options.OptionError` names its key, any other ``ValueError`` the table.
A key that is no field is refused naming the keys that are, and a secret written inline (``x``
where the type has ``x_file``) is told where it belongs.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from connectors.options import REQUIRED, OptionError
from daemon.config.toml_table import TomlTable, amount, boolean, duration, text, whole_number

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)


# ---- converters by field type: each raises ValueError/TypeError with a message for people ----


def trimmed_text(value: Any) -> str:
    return text(value).strip()


def choice(enum_type: type[E]) -> Callable[[Any], E]:
    """The member of ``enum_type`` spelt by its value."""

    def convert(value: Any) -> E:
        for member in enum_type:
            if value == member.value:
                return member
        choices = ", ".join(f'"{member.value}"' for member in enum_type)
        raise ValueError(f"{value!r} is not valid: one of {choices}")

    return convert


def listed(item: Callable[[Any], T]) -> Callable[[Any], tuple[T, ...]]:
    def convert(value: Any) -> tuple[T, ...]:
        if not isinstance(value, list):
            raise TypeError("expected a list")
        converted = []
        for i, entry in enumerate(value, start=1):
            try:
                converted.append(item(entry))
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"entry {i}: {exc}") from None
        return tuple(converted)

    return convert


def _optional(hint: Any) -> Any:
    """``X`` of ``X | None``; ``hint`` itself when it is not optional."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _is_mapping(hint: Any) -> bool:
    return typing.get_origin(hint) in (dict, Mapping)


def converter(hint: Any) -> Callable[[Any], Any]:
    """The converter for a field of type ``hint`` (mappings are read by :func:`_read`)."""
    hint = _optional(hint)
    if hint is bool:
        return boolean
    if hint is int:
        return whole_number
    if hint is Decimal:
        return amount
    if hint is timedelta:
        return duration
    if hint is str:
        return trimmed_text
    if isinstance(hint, type) and issubclass(hint, enum.StrEnum):
        return choice(hint)
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return listed(converter(args[0]))
    raise TypeError(f"no converter for option type {hint!r}")


# ---- the builder ----


def _read(table: TomlTable, name: str, hint: Any) -> Any:
    hint = _optional(hint)
    if not _is_mapping(hint):
        return table.get(name, converter(hint))
    key_type, value_type = typing.get_args(hint)
    if key_type is not str:
        raise TypeError(f"no converter for option type {hint!r}")
    entries = table.table(name)
    convert = converter(value_type)
    return {key: entries.get(key, convert) for key in entries.data}


def _refuse_unknown_keys(table: TomlTable, keys: list[str], owner: str) -> None:
    for name in table.data:
        if name in table.used or name in keys:
            continue
        if f"{name}_file" in keys or f"{name}_file" in table.used:
            raise table.error(
                name,
                "secrets are never written in the config: put it in a file only shopwatch can "
                f"read and set {name}_file to its path",
            )
        allowed = ", ".join(sorted(keys)) or "none"
        if owner:
            raise table.error(name, f"unknown key for {owner} (its own keys: {allowed})")
        raise table.error(name, f"unknown key (known here: {allowed})")


def config_key(f: dataclasses.Field[Any]) -> str:
    """The key an option is written as: its field name, or ``metadata["key"]`` where the
    name cannot be one (CS112's ``break`` is a Python keyword, its field ``break_``)."""
    return str(f.metadata.get("key", f.name))


def options_from_table(options_type: type[T], table: TomlTable, *, owner: str = "") -> T:
    """``options_type`` built from the keys of ``table`` not read yet, each by its field type.

    ``owner`` names whose keys they are in the unknown-key message (``kind 'shopify'``); every
    key of ``table`` must have been read before or be a field.
    """
    fields = dataclasses.fields(typing.cast(Any, options_type))
    keys = [config_key(f) for f in fields]
    _refuse_unknown_keys(table, keys, owner)
    hints = typing.get_type_hints(options_type)
    values = {}
    for f, key in zip(fields, keys, strict=True):
        if table.has(key):
            values[f.name] = _read(table, key, hints[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            meaning = f.metadata.get(REQUIRED)
            raise table.error(key, f"required: {meaning}" if meaning else "is required")
    table.used.update(keys)
    try:
        return options_type(**values)
    except OptionError as exc:
        raise table.error(exc.key, exc.message) from None
    except ValueError as exc:
        raise table.error_type(table.file, table.path, str(exc)) from None
