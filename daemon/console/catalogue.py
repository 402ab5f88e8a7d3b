"""The console's message catalogue: extract, update and compile it.

``python -m daemon.console.catalogue`` reads every message of the templates and the console's
code, adds the new ones to ``locale/zh_CN/LC_MESSAGES/messages.po`` (untranslated) and
compiles the ``.mo`` the package ships. A test fails while a message lacks its Chinese or
the ``.mo`` is not the compiled ``.po``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
PO = HERE / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def extract() -> list[str]:
    """Every message id, in the order first met."""
    found: dict[str, None] = {}
    for _filename, _line, message, _comments, _context in extract_from_dir(
        str(HERE), METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, None)
    return list(found)


def read() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def update() -> list[str]:
    """Add new messages to the .po, write it and the .mo; returns the untranslated ones."""
    catalog = read() if PO.exists() else Catalog(locale="zh_CN", domain="messages")
    for message in extract():
        if message not in catalog:
            catalog.add(message, "")
    with PO.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, sort_output=False)
    MO.write_bytes(compiled(read()))
    return [str(m.id) for m in read() if m.id and not m.string]


if __name__ == "__main__":
    missing = update()
    for message in missing:
        print(f"untranslated: {message}", file=sys.stderr)
    sys.exit(1 if missing else 0)
