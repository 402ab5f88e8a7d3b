"""Words, dates and money in the reader's language: Chinese (zh_CN) unless they chose English.

Messages are English in the code and the templates (``_("Ledger")``) and translated by the
zh_CN catalogue shipped in the package (``locale/zh_CN/LC_MESSAGES/messages.po`` and its
compiled ``.mo``, kept in step by a test). Dates and money are formatted by Babel for the
reader's locale, in the shop's timezone.
"""

from __future__ import annotations

import functools
import gettext
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LANGUAGES = {"zh": "zh_CN", "en": "en"}
"""What the language switch offers: cookie value → Babel locale."""
DEFAULT_LANGUAGE = "zh"
COOKIE = "shopwatch_lang"
DOMAIN = "messages"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language``; English is the messages themselves."""
    locale = LANGUAGES.get(language, LANGUAGES[DEFAULT_LANGUAGE])
    if locale == "en":
        return gettext.NullTranslations()
    mo = resources.files("daemon.console") / "locale" / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    return gettext.GNUTranslations(io.BytesIO(mo.read_bytes()))


@dataclass(frozen=True)
class Words:
    """One reader's language: translation and formatting (the templates' ``_``, ``when`` …)."""

    language: str
    timezone: ZoneInfo

    @property
    def locale(self) -> Locale:
        return Locale.parse(LANGUAGES[self.language])

    def gettext(self, message: str, **values: object) -> str:
        text = translations(self.language).gettext(message)
        return text.format(**values) if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = translations(self.language).ngettext(singular, plural, n)
        return text.format(n=n, **values)

    def when(self, moment: datetime | str | None, style: str = "medium") -> str:
        """An instant in the shop's timezone: ``medium`` (2026年11月2日 10:05:00), ``short``
        (MM-dd HH:mm), ``time`` (HH:mm:ss)."""
        if moment is None:
            return "–"
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if style == "short":
            return format_datetime(
                moment, "yyyy-MM-dd HH:mm", tzinfo=self.timezone, locale=self.locale
            )
        if style == "time":
            return format_datetime(moment, "HH:mm:ss", tzinfo=self.timezone, locale=self.locale)
        return format_datetime(moment, "medium", tzinfo=self.timezone, locale=self.locale)

    def day(self, value: date | str) -> str:
        if isinstance(value, str):
            value = date.fromisoformat(value)
        return format_date(value, "medium", locale=self.locale)

    def month(self, value: str) -> str:
        """``2026-11`` as 2026年11月 / November 2026."""
        first = date.fromisoformat(f"{value}-01")
        return format_date(
            first, "MMMM y" if self.language == "en" else "y年M月", locale=self.locale
        )

    def money(self, value: Decimal | int | float | None) -> str:
        if value is None:
            return "–"
        return format_currency(Decimal(str(value)), "CNY", locale=self.locale)

    def number(self, value: Decimal | int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, value: Decimal | float | None) -> str:
        if value is None:
            return "–"
        return format_percent(value, "#,##0.0%", locale=self.locale)


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is translated later, by a variable."""
    return message
