"""The layout is the architecture: a table of layers says what each part may import.

Read from source (nothing is imported), so a forbidden import fails here before it can
matter. Arrows point one way: the shell composes everything and nothing imports it; each
domain imports only what stands above it; there is no import cycle anywhere, and outside
the shell no import hides in a function body or a ``TYPE_CHECKING`` block to dodge one.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checks", "connectors", "daemon")

SHELL = tuple(
    f"daemon.{name}"
    for name in ("cli", "service", "app", "http", "listener", "demo", "logs", "sdnotify", "probe")
)
LEAVES = ("daemon.clock", "daemon.errors")
"""Importable by every layer of the daemon; they import nothing of the project."""
SCORING_PURE = tuple(
    f"daemon.scoring.{name}" for name in ("month", "policy", "scorecard", "conversion")
)


@dataclass(frozen=True)
class Layer:
    name: str
    modules: tuple[str, ...]
    """Module prefixes that belong to this layer."""
    may_import: tuple[str, ...]
    """Project module prefixes it may import (its own modules always)."""
    third_party: bool = True
    """Whether it may import anything outside the standard library and the project."""


LAYERS = (
    Layer("checks", ("checks",), ("connectors.model",), third_party=False),
    Layer("connectors", ("connectors",), ()),
    Layer("leaves", LEAVES, ()),
    Layer(
        "config",
        ("daemon.config",),
        (
            "checks",
            "connectors.registry",
            "connectors.model",
            "connectors.options",
            "connectors.base",
            *LEAVES,
        ),
    ),
    Layer(
        "store",
        ("daemon.store",),
        (
            "connectors.model",
            "checks.subject",
            "checks.evidence_record",
            "checks.registry",
            *LEAVES,
        ),
    ),
    Layer(
        "watch",
        ("daemon.watch",),
        ("checks", "connectors", "daemon.config", "daemon.store", *LEAVES),
    ),
    Layer(
        "alerts",
        ("daemon.alerts",),
        (
            "checks",
            "daemon.watch.events",
            "daemon.watch.metrics",
            "daemon.store",
            "daemon.config",
            *LEAVES,
        ),
    ),
    Layer("scoring (pure)", SCORING_PURE, (), third_party=False),
    Layer(
        "scoring (I/O)",
        ("daemon.scoring",),
        (
            "checks",
            "connectors.model",
            "daemon.store",
            "daemon.config",
            "daemon.watch.judge",
            *LEAVES,
        ),
    ),
    Layer(
        "simulator",
        ("daemon.simulator",),
        (
            "connectors.model",
            "connectors.wire",
            "connectors.errors",
            "checks.business_time",
            *LEAVES,
        ),
    ),
    Layer(
        "console",
        ("daemon.console",),
        (
            "checks",
            "connectors.model",
            "daemon.config",
            "daemon.store",
            "daemon.watch",
            "daemon.alerts",
            "daemon.scoring",
            *LEAVES,
        ),
    ),
    Layer("daemon's root (a new module here must join a layer)", ("daemon",), LEAVES),
    Layer("shell", SHELL, PACKAGES),
)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> Layer | None:
    """The most specific layer a module belongs to (pure scoring before scoring)."""
    matches = [
        (len(prefix), layer)
        for layer in LAYERS
        for prefix in layer.modules
        if _within(module, prefix)
    ]
    return max(matches, key=lambda m: m[0])[1] if matches else None


@dataclass(frozen=True)
class Import:
    name: str
    line: int
    top_level: bool
    """At module level, not in a function body or an ``if TYPE_CHECKING:`` block."""


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = node.module or ""
    if not node.level:
        return base
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([base] if base else []))


def _dynamic_import(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in ("__import__", "import_module") and bool(call.args)


def imports_of(source: str, module: str, is_package: bool) -> Iterator[Import]:
    tree = ast.parse(source)
    top = {id(node) for node in tree.body}

    def walk(node: ast.AST, top_level: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            here = top_level and id(child) in top
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, child.lineno, here)
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, is_package, child)
                for alias in child.names:
                    yield Import(f"{base}.{alias.name}", child.lineno, here)
            elif isinstance(child, ast.Call) and _dynamic_import(child):
                target = child.args[0]
                name = target.value if isinstance(target, ast.Constant) else "<dynamic>"
                yield Import(str(name), child.lineno, False)
                yield from walk(child, False)
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                yield from walk(child, False)
            else:
                yield from walk(child, here if isinstance(child, ast.If | ast.Try) else False)

    # statements nested in a module-level if/try still run at import time
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try) and id(node) in top:
            top |= {id(n) for n in ast.walk(node) if isinstance(n, ast.stmt)}
    yield from walk(tree, True)


SOURCES = {
    module_name(path): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    if "migrations/versions" not in path.as_posix()
}


def project_target(name: str) -> str | None:
    """The project module an imported dotted name refers to (``pkg.mod.attr`` → ``pkg.mod``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in SOURCES:
            return candidate
        parts.pop()
    return None


def problems(module: str, source: str, is_package: bool) -> list[str]:
    layer = layer_of(module)
    assert layer is not None, f"{module} belongs to no layer: add it to LAYERS"
    found = []
    for imp in imports_of(source, module, is_package):
        top = imp.name.split(".")[0]
        if top == "__future__" or top in sys.stdlib_module_names:
            continue
        target = project_target(imp.name) if top in PACKAGES else None
        where = f"line {imp.line}: {imp.name}"
        if target is None:
            if imp.name == "<dynamic>" and layer is not LAYERS[-1]:
                found.append(f"{where} (an import by computed name)")
            elif top in PACKAGES:
                found.append(f"{where} (no such module)")
            elif not layer.third_party:
                found.append(f"{where} ({layer.name} imports only the standard library)")
            continue
        if layer is not LAYERS[-1] and not imp.top_level:
            found.append(f"{where} (a late import outside the shell)")
        own = any(_within(target, prefix) for prefix in layer.modules)
        if not own and not any(_within(target, allowed) for allowed in layer.may_import):
            found.append(f"{where} ({layer.name} may not import {target})")
    return found


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_each_module_imports_only_what_its_layer_may(module: str) -> None:
    path = SOURCES[module]
    source = path.read_text(encoding="utf-8")
    assert problems(module, source, path.name == "__init__.py") == []


def test_nothing_outside_the_shell_imports_the_shell() -> None:
    for module, path in SOURCES.items():
        if layer_of(module) is LAYERS[-1]:
            continue
        source = path.read_text(encoding="utf-8")
        for imp in imports_of(source, module, path.name == "__init__.py"):
            target = project_target(imp.name)
            assert target is None or layer_of(target) is not LAYERS[-1], (module, imp)


def imported_modules(module: str, source: str, is_package: bool) -> set[str]:
    """The project modules a module imports, late imports included: a cycle closed by an
    import in a function body (the shell may have those) is still a cycle."""
    targets = {project_target(imp.name) for imp in imports_of(source, module, is_package)}
    return {t for t in targets if t is not None and t != module}


def import_graph() -> dict[str, set[str]]:
    return {
        module: imported_modules(
            module, path.read_text(encoding="utf-8"), path.name == "__init__.py"
        )
        for module, path in SOURCES.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_there_is_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


# ---- what else the layout promises ----

RULE_CODE = re.compile(r"CS\d{3}")


def _docstrings(tree: ast.AST) -> set[int]:
    """Bare string statements: module, class and function docstrings and attribute notes."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def rule_codes_in_code(source: str) -> list[str]:
    """Rule codes a module's code names (strings, names), not its comments or docstrings."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in prose and RULE_CODE.search(node.value):
                found.append(f"line {node.lineno}: {node.value[:80]!r}")
        elif isinstance(node, ast.Name | ast.Attribute | ast.arg):
            name = {ast.Name: "id", ast.Attribute: "attr", ast.arg: "arg"}[type(node)]
            if RULE_CODE.search(getattr(node, name).upper()):
                found.append(f"line {node.lineno}: {getattr(node, name)}")
    return found


@pytest.mark.parametrize("module", [m for m in sorted(SOURCES) if not _within(m, "checks")])
def test_only_the_rules_name_a_rule_code(module: str) -> None:
    """A rule lives in one place: outside ``checks/`` the code knows rules only through
    their records (comments and docstrings may name a code to say why)."""
    assert rule_codes_in_code(SOURCES[module].read_text(encoding="utf-8")) == []


def _calls(source: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            yield func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def test_one_pipeline_the_evaluator_and_replay_share_the_judge() -> None:
    """Only the judge builds the rules' evidence and runs them; the evaluator and replay
    both go through it, so replay's verdicts are production's."""
    judging = {"evaluate", "Evidence", "ShopEvidence"}
    callers = {
        module
        for module, path in SOURCES.items()
        if _within(module, "daemon") and judging & set(_calls(path.read_text(encoding="utf-8")))
    }
    assert callers == {"daemon.watch.judge"}
    for module in ("daemon.watch.evaluator", "daemon.scoring.replay"):
        source = SOURCES[module].read_text(encoding="utf-8")
        assert "daemon.watch.judge.Judge" in {i.name for i in imports_of(source, module, False)}
        assert "Judge" in set(_calls(source)), f"{module} builds no Judge"


def test_one_config_reader() -> None:
    """TOML is read in one place, whose converters every config file's checks build on."""
    readers = {
        module
        for module, path in SOURCES.items()
        for imp in imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py")
        if imp.name.split(".")[0] == "tomllib"
    }
    assert readers == {"daemon.config.toml_table"}


def _how_it_works() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## How it works\n")
    return text[start : text.index("\n## ", start + 1)]


def test_readme_folder_table_is_the_layout() -> None:
    """README's picture and folder table name what exists: every sub-package of
    ``daemon/`` has its row, and the shell's row names every module at ``daemon/``'s top."""
    section = _how_it_works()
    for path in set(re.findall(r"daemon/[a-z_/]*[a-z_]", section)):
        assert (ROOT / path).is_dir() or (ROOT / f"{path}.py").is_file(), path
    rows = {
        row.split("|")[1].strip(): row.split("|")[2]
        for row in section.splitlines()
        if row.startswith("| `")
    }
    packages = {p.parent.name for p in (ROOT / "daemon").glob("*/__init__.py")}
    assert {
        name[len("`daemon/") : -2]
        for name in rows
        if name.startswith("`daemon/") and name.endswith("/`")
    } == packages
    top = {p.stem for p in (ROOT / "daemon").glob("*.py")} - {"__init__"}
    assert {f"daemon.{name}" for name in top} == set(SHELL) | set(LEAVES)
    named = set(re.findall(r"`(\w+)`", rows["`daemon/*.py`"]))
    assert top <= named, f"README's shell row lacks {sorted(top - named)}"


# ---- the guard itself ----


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("daemon.store.ledger", "from daemon.watch.metrics import Metrics"),
        ("daemon.alerts.notice", "from daemon.scoring.scorecard import Scorecard"),
        ("daemon.watch.poller", "from daemon.app import Daemon"),
        ("daemon.console.pages", "from daemon.http import Api"),
        ("daemon.scoring.records", "from daemon.console.access import may_see"),
        ("daemon.scoring.month", "from sqlalchemy import select"),
        ("daemon.scoring.scorecard", "from daemon.store import tables"),
        ("daemon.config.settings", "def f():\n    from daemon.store import tables"),
        ("daemon.config.settings", "from connectors.shopify import client"),
        ("checks.cs101_unpaid_order_not_chased", "import structlog"),
        ("checks.registry", "from daemon.config import settings"),
        ("connectors.registry", "from daemon.errors import BadInput"),
        ("checks.registry", "import importlib\nimportlib.import_module('daemon.store')"),
        ("checks.registry", "__import__('structlog')"),
        ("checks.registry", "import numpy"),
        (
            "daemon.watch.evaluator",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from daemon.alerts import listener",
        ),
    ],
)
def test_the_guard_catches_a_forbidden_import(module: str, source: str) -> None:
    assert problems(module, source, False)


def test_the_guard_catches_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_late_import_in_the_shell_still_closes_a_cycle() -> None:
    late = "def run():\n    from daemon import cli"
    assert imported_modules("daemon.service", late, False) == {"daemon.cli"}


@pytest.mark.parametrize(
    "source",
    [
        'RULE = BY_CODE["CS110"]',
        'if code == "CS104":\n    pass',
        'log.info(f"CS101 {n}")',
        "cs108 = 1",
    ],
)
def test_the_guard_catches_a_rule_code_outside_the_rules(source: str) -> None:
    assert rule_codes_in_code(source)


def test_the_guard_lets_prose_name_a_rule_code() -> None:
    source = (
        '"""CS101 chases."""\nX = 1\n"""CS102\'s window."""\n# CS103\ndef f():\n    """CS104."""\n'
    )
    assert rule_codes_in_code(source) == []
