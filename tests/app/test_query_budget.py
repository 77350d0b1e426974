"""Each account's token bucket of query cost (app/query_budget.py), on a clock we move; and
the settings that size it."""

from __future__ import annotations

import pytest

from app.query_budget import AccountBudgets, retry_after_seconds
from app.settings import SettingsError, load_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    budgets = AccountBudgets(600, 60.0, clock=clock)  # 10 points a second
    assert budgets.charge(1, 500) is None
    assert budgets.charge(1, 300) == 20.0  # 100 left, 200 more take 20 s; nothing taken
    clock.now += 10
    assert budgets.charge(1, 300) == 10.0
    clock.now += 10
    assert budgets.charge(1, 300) is None
    assert budgets.charge(2, 600) is None  # another account: its own full bucket


def test_a_bucket_never_holds_more_than_its_points() -> None:
    clock = Clock()
    budgets = AccountBudgets(100, 10.0, clock=clock)
    assert budgets.charge(1, 100) is None
    clock.now += 3600
    assert budgets.charge(1, 100) is None
    assert budgets.charge(1, 1) is not None


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert retry_after_seconds(0.01) == 1
    assert retry_after_seconds(1.2) == 2


def test_a_budget_smaller_than_one_query_at_the_node_limit_is_refused_at_start() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(graphql_max_nodes=10_000, graphql_budget_points=5_000)
    assert "CHRONIK_GRAPHQL_BUDGET_POINTS" in str(refused.value)
    assert "CHRONIK_GRAPHQL_MAX_NODES" in str(refused.value)
