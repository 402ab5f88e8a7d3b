"""The rules are pure: ``checks`` imports only the stdlib, itself and ``connectors.model``.

A rule that reached for the database, the network or the logger would make verdicts depend
on more than the evidence, and re-reading the same data could change them (SPEC §2). The
import graph is read from source, so a module is checked without being imported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parent.parent / "checks"
FORBIDDEN = ("daemon", "sqlalchemy", "httpx", "aiohttp", "structlog")
ALLOWED_PROJECT = ("checks", "connectors.model")
DYNAMIC_IMPORTERS = {"__import__", "import_module"}


def _within(name: str, root: str) -> bool:
    return name == root or name.startswith(root + ".")


def imported_names(tree: ast.AST) -> Iterator[str]:
    """Every module a tree imports, anywhere (including function bodies and TYPE_CHECKING
    blocks), as dotted names; ``from pkg import mod`` yields ``pkg.mod``; relative imports
    resolve inside ``checks``; string arguments of dynamic imports count too."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "checks" + (f".{base}" if base else "")
            yield from (f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in DYNAMIC_IMPORTERS and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value
                else:
                    yield "<dynamic>"


def violations(source: str) -> list[str]:
    bad = []
    for name in imported_names(ast.parse(source)):
        top = name.split(".")[0]
        if any(_within(name, f) for f in FORBIDDEN):
            bad.append(f"{name} (forbidden)")
        elif top == "__future__" or top in sys.stdlib_module_names:
            continue
        elif not any(_within(name, allowed) for allowed in ALLOWED_PROJECT):
            bad.append(f"{name} (not stdlib, checks or connectors.model)")
    return bad


MODULES = sorted(CHECKS.rglob("*.py"))


def test_the_checks_package_is_found() -> None:
    names = {path.name for path in MODULES}
    assert {"cs101_unpaid_order_not_chased.py", "attribution.py", "evidence.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CHECKS)))
def test_checks_module_imports_only_stdlib_checks_and_connectors_model(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import daemon.store",
        "from daemon.store import ledger",
        "import sqlalchemy as sa",
        "from httpx import AsyncClient",
        "def f():\n    import aiohttp",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import structlog",
        "from connectors import http",
        "from connectors.shopify import client",
        "import importlib\nimportlib.import_module('daemon')",
        "__import__('structlog')",
        "import numpy",
    ],
)
def test_the_guard_catches_impure_imports(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations",
        "import bisect\nfrom datetime import UTC",
        "from zoneinfo import ZoneInfo",
        "from checks.subject import Breach",
        "from checks import evidence_record as record",
        "from . import subject",
        "from connectors.model import Order",
        "from connectors import model",
    ],
)
def test_the_guard_allows_stdlib_checks_and_the_model(source: str) -> None:
    assert violations(source) == []
