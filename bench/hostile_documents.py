"""Benchmark: validating hostile GraphQL documents, before (strawberry's limiters) and now.

    .venv/bin/python bench/hostile_documents.py

In-process, no server: each document is parsed once, then validated with graphql-core's
specified rules plus (a) strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter`, as
Chronik used them before, and (b) Chronik's limits now (`app/limits.py`: one linear pass
with each fragment analysed once, graphql-core's field-merging check on a smaller budget).
Prints the best of 3 wall times per document, side by side. (a) is skipped where one run
would take more than a few seconds (the fan-out doubles per level).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "security"))

from graphql import (  # noqa: E402
    ASTValidationRule,
    DocumentNode,
    parse,
    specified_rules,
    validate,
)
from graphql.validation.rules import overlapping_fields_can_be_merged  # noqa: E402
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter  # noqa: E402
from test_hostile_documents import fragment_fan_out, hostile_shapes  # noqa: E402

from app.limits import FIELD_MERGE_BUDGET, query_shape_rule  # noqa: E402
from schema.root import schema  # noqa: E402

GRAPHQL_SCHEMA = schema._schema
# The largest fan-out the old rules are timed on (each further level doubles the time).
OLD_MAX_LEVELS = 18


def best_of(runs: int, document: DocumentNode, rules: list[type[ASTValidationRule]]) -> float:
    """The best wall time of validating `document` with `rules`, over `runs` runs."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        validate(GRAPHQL_SCHEMA, document, rules)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    old_rules: list[type[ASTValidationRule]] = [
        *specified_rules,
        *QueryDepthLimiter(max_depth=12).validation_rules,
        *MaxAliasesLimiter(max_alias_count=30).validation_rules,
    ]
    new_rules = [*specified_rules, query_shape_rule(max_depth=12, max_aliases=30)]
    documents = {f"fan-out, {n} levels": fragment_fan_out(n) for n in (14, 16, 18, 20, 40)}
    documents.update(hostile_shapes())
    default_budget = overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET
    print(f"{'document':32} {'bytes':>6}  {'before':>10}  {'now':>9}")
    for name, text in documents.items():
        document = parse(text, max_tokens=10_000)
        levels = int(name.split(", ")[1].split()[0]) if name.startswith("fan-out,") else 0
        before = "skipped"
        # (The fan-out through two fragments has 40 levels: 2^40 expansions before.)
        if levels <= OLD_MAX_LEVELS and not name.startswith("fan-out through"):
            overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = default_budget
            seconds = best_of(1 if levels else 3, document, old_rules)
            before = f"{1000 * seconds:8.1f} ms"
        overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = FIELD_MERGE_BUDGET
        now = best_of(3, document, new_rules)
        print(f"{name:32} {len(text):6}  {before:>10}  {1000 * now:6.1f} ms", flush=True)


if __name__ == "__main__":
    main()
