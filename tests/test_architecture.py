"""The package's import graph: no cycles, and no import from a lower
layer of the package into a higher one (ARCHITECTURE.md).

Every `import` counts, also those inside functions (they still tie the
modules together). `from package import submodule` counts as an import of
the submodule.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "keras_fastfcn"

# Lower layers first; a module may import its own layer and those below.
LAYERS = [
    ("constants", "utils", "ops"),
    ("fast",),
    ("layers", "backbones"),
    ("heads", "necks"),
    ("weights",),
    ("models",),
]


def module_names() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if not node.module.startswith("keras_fastfcn"):
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(
                a.name for a in node.names if a.name.startswith("keras_fastfcn")
            )
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a list of modules, or `None`."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    for rank, names in enumerate(LAYERS):
        if parts[1] in names:
            return rank
    return None


def test_find_cycle_finds_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 80
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_no_upward_imports():
    upward = []
    for module, targets in import_graph().items():
        rank = layer_of(module)
        if rank is None:
            continue
        for target in targets:
            target_rank = layer_of(target)
            if target_rank is None or target_rank > rank:
                upward.append(f"{module} -> {target}")
    assert not upward, upward
