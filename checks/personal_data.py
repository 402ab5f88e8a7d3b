"""Customer data in message text: found, compared and masked, in one place (SPEC §3, CS107).

Three kinds of value are personal data here: mainland mobile numbers (``1[3-9]`` and nine more
digits, optionally after a ``+86``/``0086`` country code), resident ID numbers (17 digits and a
digit or ``X``) and e-mail addresses. Text is read after Unicode NFKC, so full-width digits
and ``＠`` count, and e-mail addresses are compared case-insensitively.

Numbers may be written with spaces or dashes between digit groups (``138 1234-5678``). A
number never starts or ends inside a run of adjacent digits: a run of digits is one *group*,
and a phone or ID number is made of one or more whole, consecutive groups, separated only by
spaces or dashes. So ``13812345678`` inside the order number ``202611021381234567890`` is no
phone number, while ``数量 2 13812345678`` holds one (the digits ``2`` are a group of their
own). Letters and other characters next to a number do not matter (``电话13812345678``).

Evidence never holds a value in full: :func:`mask` replaces every value by its masked form
(phones ``138****5678``, e-mails ``a***@example.com``, ID numbers the first 6 and the last 4
characters), and the canonical value of :class:`PersonalValue` is kept out of its ``repr``.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from checks.text import digits_joined, normalize

_SEPARATORS = r"\s\-‐‑‒–—−"
"""What may stand between digit groups: the spaces and dashes of ``checks.text``."""
_SEPARATOR = f"[{_SEPARATORS}]"
_RUN = re.compile(rf"[0-9]+(?:{_SEPARATOR}+[0-9]+)*(?:[xX](?![a-zA-Z0-9]))?")
"""Digit groups joined by separators; an ID number's final ``X`` ends the last group."""
_GROUP = re.compile(r"[0-9]+[xX]?")
_DIGIT = re.compile(r"[0-9]")
_PHONE = re.compile(r"1[3-9][0-9]{9}")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9x]")
_COUNTRY_CODES = ("0086", "86")
_EMAIL = re.compile(
    r"[a-z0-9._%+\-]+@(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)+[a-z]{2,}",
    re.IGNORECASE | re.ASCII,
)
_NUMBER_AS_WRITTEN = re.compile(rf"[+(]?[0-9][0-9(){_SEPARATORS}]*x?")
"""An allow entry or a buyer id that is a number as people write one: ``+86 138-1234-5678``."""
_LONGEST_NUMBER = 4 + 18
"""No candidate is longer than a country code and an ID number."""


class Kind(enum.StrEnum):
    PHONE = "phone"
    ID_NUMBER = "id_number"
    EMAIL = "email"

    @property
    def words(self) -> tuple[str, str]:
        return _KIND_WORDS[self]


_KIND_WORDS = {
    Kind.PHONE: ("手机号", "mobile number"),
    Kind.ID_NUMBER: ("身份证号", "ID number"),
    Kind.EMAIL: ("邮箱", "e-mail address"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalValue:
    """One value found in a text, at ``[start, end)`` of that (original, unnormalised) text."""

    kind: Kind
    canonical: str = field(repr=False)
    """Digits only (an ID's ``x`` lower case; a phone without its country code), or the
    case-folded address: what comparisons use. Never stored, logged or shown."""
    start: int
    end: int

    @property
    def masked(self) -> str:
        value = self.canonical
        if self.kind is Kind.PHONE:
            return f"{value[:3]}****{value[-4:]}"
        if self.kind is Kind.ID_NUMBER:
            return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:].upper()}"
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"


@dataclass(frozen=True, slots=True)
class _Group:
    start: int
    end: int
    text: str


def _plain(text: str) -> tuple[str, list[int] | None]:
    """NFKC, character by character, with each normalised character's index in ``text`` (so
    a value found in the normalised text is masked where it stands in the original); None
    for the indexes when the text is already normalised."""
    if unicodedata.is_normalized("NFKC", text):
        return text, None
    parts: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        normal = unicodedata.normalize("NFKC", char)
        parts.append(normal)
        origin.extend([index] * len(normal))
    return "".join(parts), origin


def _may_hold_data(text: str) -> bool:
    """A cheap first look: no value without an ``@`` or at least 11 digits."""
    plain = unicodedata.normalize("NFKC", text)
    return "@" in plain or len(_DIGIT.findall(plain)) >= len("13812345678")


def _number_kind(digits: str) -> Kind | None:
    if _PHONE.fullmatch(digits):
        return Kind.PHONE
    if _ID_NUMBER.fullmatch(digits):
        return Kind.ID_NUMBER
    return None


def _country_code(digits: str, first_group: str) -> str:
    """The country code written in front of a phone number inside its first group, if any
    (``8613812345678``); a code written as a group of its own is simply not part of it."""
    for code in _COUNTRY_CODES:
        rest = digits[len(code) :]
        if digits.startswith(code) and len(first_group) > len(code) and _PHONE.fullmatch(rest):
            return code
    return ""


def _numbers_in(groups: list[_Group]) -> Iterable[tuple[Kind, str, int, int]]:
    """Phone and ID numbers made of whole consecutive groups, left to right; at each start
    the longest candidate wins, and the next search starts after it."""
    i = 0
    while i < len(groups):
        best: tuple[Kind, str, int, int, int] | None = None
        joined = ""
        for j in range(i, len(groups)):
            joined += groups[j].text.casefold()
            if len(joined) > _LONGEST_NUMBER:
                break
            code = _country_code(joined, groups[i].text)
            digits = joined[len(code) :]
            kind = _number_kind(digits)
            if kind is not None:
                best = (kind, digits, groups[i].start + len(code), groups[j].end, j)
            if joined.endswith("x"):
                break
        if best is None:
            i += 1
            continue
        kind, digits, start, end, last = best
        yield kind, digits, start, end
        i = last + 1


def _digit_groups(plain: str, taken: list[tuple[int, int]]) -> Iterable[list[_Group]]:
    """The runs of digit groups, each group outside the ``taken`` spans (e-mail addresses);
    a taken group splits its run."""
    for run in _RUN.finditer(plain):
        current: list[_Group] = []
        for found in _GROUP.finditer(run.group(0)):
            start, end = run.start() + found.start(), run.start() + found.end()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                if current:
                    yield current
                current = []
                continue
            current.append(_Group(start, end, found.group(0)))
        if current:
            yield current


def find_personal_data(text: str) -> list[PersonalValue]:
    """Every phone number, ID number and e-mail address in ``text``, in text order."""
    if not _may_hold_data(text):
        return []
    plain, origin = _plain(text)

    def value(kind: Kind, canonical: str, start: int, end: int) -> PersonalValue:
        if origin is not None:
            start, end = origin[start], origin[end - 1] + 1
        return PersonalValue(kind=kind, canonical=canonical, start=start, end=end)

    found: list[PersonalValue] = []
    emails = [(m.start(), m.end()) for m in _EMAIL.finditer(plain)]
    for start, end in emails:
        found.append(value(Kind.EMAIL, plain[start:end].casefold(), start, end))
    for groups in _digit_groups(plain, emails):
        for kind, digits, start, end in _numbers_in(groups):
            found.append(value(kind, digits, start, end))
    return sorted(found, key=lambda v: v.start)


def mask(text: str) -> str:
    """``text`` with every value of :func:`find_personal_data` replaced by its masked form;
    everything else is left as written."""
    masked: list[str] = []
    position = 0
    for found in find_personal_data(text):
        masked.append(text[position : found.start])
        masked.append(found.masked)
        position = found.end
    masked.append(text[position:])
    return "".join(masked)


def canonical(entry: str) -> str:
    """How an ``allow`` entry or a buyer id compares with a found value: a number as people
    write one compares digit for digit (spaces, dashes, brackets and a leading ``+86`` aside),
    anything else as its NFKC, case-folded, trimmed text."""
    plain = normalize(entry).strip()
    if not _NUMBER_AS_WRITTEN.fullmatch(plain):
        return plain
    digits = re.sub(r"[^0-9x]", "", plain)
    code = _country_code(digits, digits)
    return digits[len(code) :]


def is_value_of(entry: str, value: PersonalValue) -> bool:
    """Whether ``entry`` (an allow entry, a buyer id) is ``value``, compared as
    :func:`canonical` says."""
    return canonical(entry) == value.canonical


def appears_in(value: PersonalValue, text: str | None) -> bool:
    """Whether ``value`` is written in ``text``: digit for digit for numbers (spaces and
    dashes between digits ignored), case-insensitively for e-mail addresses."""
    if not text:
        return False
    if value.kind is Kind.EMAIL:
        return value.canonical in normalize(text)
    return value.canonical in digits_joined(text)
