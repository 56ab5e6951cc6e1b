"""The layers hold: the kernel imports nothing above it, plug-ins never import the process, no cycles.

Read from the source with `ast`, so a wrong-way import fails here even if no test happens to run it.
Every import counts, including lazy ones inside functions and those under `TYPE_CHECKING`: a cycle
hidden that way is still two modules that cannot be understood (or split) one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub_core", "hub_agent", "radios", "local_rules")

#: package -> the first-party packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "hub_core": set(),
    "radios": {"hub_core"},
    "local_rules": {"hub_core"},
    "hub_agent": {"hub_core", "radios", "local_rules"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, module: str) -> set[str]:
    """Absolute names of the first-party modules (and names) `module` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _sources() -> dict[str, ast.Module]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            out[_module_name(path)] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return out


SOURCES = _sources()


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_a_module_imports_only_layers_below_it(module: str) -> None:
    package = module.split(".")[0]
    wrong = sorted(
        name
        for name in _imports(SOURCES[module], module)
        if name.split(".")[0] not in ALLOWED[package] | {package}
    )
    assert not wrong, f"{module} imports {wrong}; {package} may import only {sorted(ALLOWED[package])}"


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for module, tree in SOURCES.items():
        graph[module] = {name for name in _imports(tree, module) if name in SOURCES and name != module}
    # Importing a submodule runs its package's __init__ first, but a package importing its own
    # submodules (re-exports) is the normal direction, so edges go only where the code points.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checker_sees_a_wrong_way_import() -> None:
    source = (
        "if TYPE_CHECKING:\n    from hub_agent.hub import Hub\n\ndef f():\n    import local_rules.model\n"
    )
    assert _imports(ast.parse(source), "radios.x") == {
        "hub_agent.hub",
        "hub_agent.hub.Hub",
        "local_rules.model",
    }


def test_the_checker_resolves_relative_imports() -> None:
    tree = ast.parse("from . import frame\nfrom ..base import Radio\n")
    assert _imports(tree, "radios.zwave.driver") == {
        "radios.zwave",
        "radios.zwave.frame",
        "radios.base",
        "radios.base.Radio",
    }
