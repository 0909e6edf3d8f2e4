"""The import graph of kvgg has no cycle, function-local imports included.

A function-local import only hides a cycle from the interpreter at load time; the two
modules still depend on each other. So every ``import`` statement counts, wherever it is,
except under ``if TYPE_CHECKING:``: those never run (they only name types for annotations).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

PACKAGE_ROOT = Path(importlib.util.find_spec("kvgg").origin).parent  # found, not imported


def _module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The kvgg modules an import statement loads (its target and, for ``from``, submodules)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in known:  # `from kvgg.x import y` with y a submodule
            targets.add(f"{base}.{alias.name}")
        elif base in known:  # a name defined (or re-exported) by the module itself
            targets.add(base)
    return targets


def _runtime_nodes(tree: ast.AST):
    """Every node of `tree` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph() -> dict[str, set[str]]:
    """Edges module -> kvgg modules it imports anywhere in its body (functions included)."""
    modules = _module_names()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = set()
        for node in _runtime_nodes(tree):
            edges |= _imported(node, name, is_package, known)
        graph[name] = edges - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first repeated at the end), or None.

    Importing ``a.b`` runs ``a/__init__.py`` first, but that is not an edge a module
    chooses: a package that imports its own submodules is fine as long as none of them
    imports the package back.
    """
    state = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state[target] == 1:
                return stack[stack.index(target) :] + [target]
            if state[target] == 0:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state[node] == 0:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_function_local_and_submodule_imports():
    graph = import_graph()
    # kvgg.data imports kvgg.data.spec at module level; `from kvgg.data import sources`
    # inside spec names the submodule, not the package.
    assert "kvgg.data.spec" in graph["kvgg.data"]
    assert "kvgg.data.sources" in graph["kvgg.data.spec"]
    # the CLI imports the library inside its command functions.
    assert "kvgg.data.tfrecord" in graph["kvgg.cli.datasets"]
    # sources records bad files with bad_files, which knows nothing of sources.
    assert "kvgg.data.sources" not in graph["kvgg.data.bad_files"]
    assert "kvgg.data.bad_files" in graph["kvgg.data.sources"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_kvgg():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
