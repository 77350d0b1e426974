"""The packages' floors: no import runs back up (README, "Development"), and no two modules
import each other, however roundabout.

Read from the source, so imports under `TYPE_CHECKING` and inside functions count too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Highest first; a package may import only the ones after it.
FLOORS = ("app", "schema", "resolvers", "sync", "db", "telemetry")
SANDBOXES = "sandboxes"
# What the sandboxes (beside `app`, imported by it) may use of the product: their provider's
# wire types and tables; and the runner, the registry whose sandboxes it starts.
SANDBOX_MAY_IMPORT = ("sync.providers.",)
RUNNER_MAY_IMPORT = {("sandboxes/runner.py", "sync.providers")}


def _imports(package: str) -> list[tuple[str, int, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            where = str(path.relative_to(ROOT))
            found += [(where, node.lineno, name) for name in names]
    return found


def test_no_import_runs_up_a_floor() -> None:
    upward = []
    for floor, package in enumerate(FLOORS):
        allowed = set(FLOORS[floor:])
        for where, line, name in _imports(package):
            top = name.split(".")[0]
            if top in FLOORS and top not in allowed:
                upward.append(f"{where}:{line} imports {name}")
            if top == SANDBOXES and package != "app":
                upward.append(f"{where}:{line} imports {name} (only app runs the sandboxes)")
    assert upward == []


def test_the_sandboxes_use_only_their_providers_wire_types() -> None:
    beyond = [
        f"{where}:{line} imports {name}"
        for where, line, name in _imports(SANDBOXES)
        if name.split(".")[0] in FLOORS
        and not name.startswith(SANDBOX_MAY_IMPORT)
        and (where, name) not in RUNNER_MAY_IMPORT
    ]
    assert beyond == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, known: set[str]) -> Iterator[str]:
    """The project's modules this file names: `from a.b import c` names module `a.b.c` when
    there is one, else `a.b`; a relative import is read against the file's package."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def _import_graph() -> dict[str, set[str]]:
    """Each module of the product's packages → the product's modules it imports."""
    paths = [path for package in (*FLOORS, SANDBOXES) for path in (ROOT / package).rglob("*.py")]
    known = {_module_name(path) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        name = _module_name(path)
        graph[name] = {m for m in _imported_modules(path, known) if m in known and m != name}
    return graph


def _circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other through imports (strongly connected
    components of more than one module, Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def test_no_import_circle() -> None:
    """A circle, even through a function-local or `TYPE_CHECKING` import, means neither
    module can be read, tested or moved without the other."""
    assert _circles(_import_graph()) == []


def test_a_circle_is_found_however_long() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert _circles(graph) == [["a", "b", "c"]]
