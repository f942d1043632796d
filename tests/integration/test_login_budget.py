"""The per-address budget of failed log-ins: a sliding window, slots given back on success."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.lockout import AddressBudget

T0 = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)  # any instant: the budget only compares
WINDOW = dt.timedelta(minutes=15)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_spent_budget_says_when_the_oldest_failure_expires() -> None:
    budget = AddressBudget(3, WINDOW)
    for second in (0, 10, 20):
        assert budget.take("10.0.0.1", at(second)) is None
    assert budget.take("10.0.0.1", at(30)) == WINDOW - dt.timedelta(seconds=30)
    assert budget.take("10.0.0.2", at(30)) is None, "each address has its own budget"
    assert budget.take("10.0.0.1", at(15 * 60 - 1)) == dt.timedelta(seconds=1)
    assert budget.take("10.0.0.1", at(15 * 60)) is None, "the first failure has expired"
    assert budget.take("10.0.0.1", at(15 * 60)) is not None


def test_a_refusal_is_never_told_to_wait_zero_seconds() -> None:
    budget = AddressBudget(1, WINDOW)
    assert budget.take("a", at(0)) is None
    assert budget.take("a", at(15 * 60 - 0.001)) == dt.timedelta(seconds=1)


def test_successful_log_ins_give_their_slot_back() -> None:
    budget = AddressBudget(2, WINDOW)
    for second in range(10):
        assert budget.take("office", at(second)) is None
        budget.give_back("office", at(second))
    assert budget.take("office", at(10)) is None
    assert budget.take("office", at(11)) is None
    assert budget.take("office", at(12)) is not None
    budget.give_back("office", at(99))  # nothing taken then: nothing changes
    assert budget.take("office", at(13)) is not None


def test_memory_stays_bounded() -> None:
    budget = AddressBudget(5, WINDOW, max_addresses=100)
    for n in range(1000):
        assert budget.take(f"10.0.{n // 250}.{n % 250}", at(n)) is None
    assert len(budget) == 100, "past the bound the least recently seen are forgotten"
    assert budget.take("10.9.9.9", at(1000 + 15 * 60)) is None
    assert len(budget) <= 100 and budget.take("10.9.9.9", at(1000 + 15 * 60)) is None
    later = at(5000)
    budget.take("late", later)
    assert len(budget) == 1, "addresses whose failures all expired are dropped"


def test_a_budget_needs_a_failure_and_a_window() -> None:
    with pytest.raises(ValueError, match="at least one failure"):
        AddressBudget(0, WINDOW)
    with pytest.raises(ValueError, match="at least one failure"):
        AddressBudget(1, dt.timedelta(0))
