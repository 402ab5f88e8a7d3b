"""connectors/ stands on its own: it never imports the daemon, has no import cycle, and no
import is hidden in a function or behind ``TYPE_CHECKING`` to dodge one.

The import graph is read from source, so a module is checked without being imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "connectors"
MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """Every module named by an import statement, with the statement."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node
            for alias in node.names:  # ``from connectors import wire`` imports connectors.wire
                yield f"{node.module}.{alias.name}", node


def project_imports(path: Path) -> set[str]:
    known = {module_name(p) for p in MODULES}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {name for name, _ in imported(tree) if name in known} - {module_name(path)}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_connectors_never_import_the_daemon(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    daemon = [name for name, _ in imported(tree) if name.split(".")[0] == "daemon"]
    assert not daemon, f"{path.name} imports {daemon}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_is_at_module_level(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    late = [
        f"line {node.lineno}: {name}"
        for name, node in imported(tree)
        if id(node) not in top and not name.startswith("__future__")
    ]
    assert not late, f"imports inside a function or an if block: {late}"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module → modules it imports), or ``None``."""
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if name in trail:
            return [*trail[trail.index(name) :], name]
        if name in done:
            return None
        for child in sorted(graph.get(name, ())):
            found = visit(child, [*trail, name])
            if found:
                return found
        done.add(name)
        return None

    for name in sorted(graph):
        found = visit(name, [])
        if found:
            return found
    return None


def test_no_import_cycle_in_connectors() -> None:
    cycle = find_cycle({module_name(path): project_imports(path) for path in MODULES})
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_check_finds_the_cycle_this_layout_used_to_have() -> None:
    graph = {
        "connectors.registry": {"connectors.woocommerce.options"},
        "connectors.woocommerce.options": {"connectors.registry"},
    }
    assert find_cycle(graph) == [
        "connectors.registry",
        "connectors.woocommerce.options",
        "connectors.registry",
    ]
