"""The console's words: every message has its Chinese, and the shipped .mo is the .po
compiled (``python -m daemon.console.catalogue`` keeps both in step)."""

from __future__ import annotations

from daemon.console import catalogue
from daemon.console.i18n import Words, translations


def test_every_message_is_translated() -> None:
    known = {m.id: m.string for m in catalogue.read() if m.id}
    missing = [m for m in catalogue.extract() if not known.get(m)]
    assert missing == [], "run python -m daemon.console.catalogue and translate these"


def test_the_shipped_mo_is_the_compiled_po() -> None:
    assert catalogue.MO.read_bytes() == catalogue.compiled(catalogue.read())


def test_words_in_each_language() -> None:
    from zoneinfo import ZoneInfo

    zh = Words("zh", ZoneInfo("Asia/Shanghai"))
    en = Words("en", ZoneInfo("Asia/Shanghai"))
    assert zh.gettext("Ledger") == "违规台账" and en.gettext("Ledger") == "Ledger"
    assert zh.month("2026-11") == "2026年11月" and en.month("2026-11") == "November 2026"
    assert zh.money(-120) == "-¥120.00"
    assert translations("fr").gettext("Ledger") == "违规台账"  # an unknown language: Chinese
