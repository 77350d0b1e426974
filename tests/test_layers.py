"""The packages' floors: no import runs back up (README, "Development").

Read from the source, so imports under `TYPE_CHECKING` and inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Highest first; a package may import only the ones after it.
FLOORS = ("app", "schema", "resolvers", "sync", "db", "telemetry")
SANDBOXES = "sandboxes"
# What the sandboxes (beside `app`, imported by it) may use of the product: their provider's
# wire types and tables.
SANDBOX_MAY_IMPORT = ("sync.providers.",)


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
        if name.split(".")[0] in FLOORS and not name.startswith(SANDBOX_MAY_IMPORT)
    ]
    assert beyond == []
