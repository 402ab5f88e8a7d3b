"""Matching message text the way SPEC §3 "Matching text" says, for the rules that read words.

Text is normalised with Unicode NFKC (full-width letters, digits and punctuation become their
ordinary forms, so ``ＯＫ`` and ``OK`` are one word, ``１３８`` is ``138``) and compared
case-insensitively (``casefold``). ``patterns`` are regular expressions searched anywhere in
the text; ``ignore`` patterns must match the whole trimmed text; ``phrases`` are substrings.
Numbers are compared digit for digit: spaces and dashes between digits are ignored.

Pattern lists come from the config as strings; :class:`TextMatcher` compiles them once (the
rule's options object holds the strings, so the options stay plain, comparable data).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-‐‑‒–—−]+(?=\d)")


def normalize(text: str) -> str:
    """NFKC, then case-folded: the form every comparison uses."""
    return unicodedata.normalize("NFKC", text).casefold()


def digits_joined(text: str) -> str:
    """``normalize(text)`` with spaces and dashes between digits removed, so
    ``138 1234-5678`` reads as ``13812345678``."""
    return _BETWEEN_DIGITS.sub("", normalize(text))


def only_digits(text: str) -> str:
    return "".join(ch for ch in normalize(text) if ch.isdigit() or ch == "x")


_ESCAPE = re.compile(r"(\\.)", re.DOTALL)


def _normalize_pattern(pattern: str) -> str:
    """A pattern normalised like the text it is matched against, escapes kept as written:
    case-folding ``\\S``, ``\\D`` or ``\\U0001F600`` would change what they mean."""
    parts = _ESCAPE.split(unicodedata.normalize("NFKC", pattern))
    return "".join(part if i % 2 else part.casefold() for i, part in enumerate(parts))


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(_normalize_pattern(pattern), re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _normalized(phrases: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalize(phrase) for phrase in phrases)


@functools.lru_cache(maxsize=64)
def _any_of(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """One search for a whole phrase list: most messages contain none, and a list of
    twenty phrases would otherwise be twenty scans of every message."""
    return re.compile("|".join(re.escape(normal) for normal in _normalized(phrases)))


def check_patterns(patterns: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the first pattern that is not a valid regular expression
    (the config loader turns it into an error naming the key)."""
    for pattern in patterns:
        try:
            _compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None


@dataclass(frozen=True, slots=True)
class TextMatcher:
    """Phrases and patterns, matched against normalised text."""

    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def first_match(self, text: str) -> str | None:
        """The phrase or the matched text of the first pattern found in ``text``, if any."""
        plain = normalize(text)
        if self.phrases and _any_of(self.phrases).search(plain):
            for phrase, normal in zip(self.phrases, _normalized(self.phrases), strict=True):
                if normal in plain:
                    return phrase
        for pattern in self.patterns:
            found = _compile(pattern).search(plain)
            if found:
                return found.group(0)
        return None


def fully_matches_any(text: str, patterns: Sequence[str]) -> bool:
    """Whether the whole trimmed, normalised text matches one of ``patterns``."""
    plain = normalize(text).strip()
    return any(_compile(pattern).fullmatch(plain) for pattern in patterns)
