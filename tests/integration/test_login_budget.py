"""The per-address budget of failed log-ins, kept in the database so that every API host
counts the same failures: a sliding window, slots given back on success, never overshot by
attempts at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accounts.lockout import AddressBudget, AddressOverBudget, LoginFailure
from core.db import transaction

T0 = dt.datetime(2030, 1, 1, 8, 0, tzinfo=dt.UTC)  # any instant: the budget only compares
WINDOW = dt.timedelta(minutes=15)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def take(
    sessions: sessionmaker[Session], budget: AddressBudget, address: str, when: dt.datetime
) -> int | dt.timedelta:
    """The slot taken, or how long to wait."""
    try:
        with transaction(sessions) as session:
            return budget.take(session, address, when)
    except AddressOverBudget as over:
        return over.wait


def give_back(
    sessions: sessionmaker[Session], budget: AddressBudget, slot: int | dt.timedelta
) -> None:
    assert isinstance(slot, int)
    with transaction(sessions) as session:
        budget.give_back(session, slot)


def test_a_spent_budget_says_when_the_oldest_failure_expires(
    sessions: sessionmaker[Session],
) -> None:
    budget = AddressBudget(3, WINDOW)
    for second in (0, 10, 20):
        assert isinstance(take(sessions, budget, "10.0.0.1", at(second)), int)
    assert take(sessions, budget, "10.0.0.1", at(30)) == WINDOW - dt.timedelta(seconds=30)
    assert isinstance(take(sessions, budget, "10.0.0.2", at(30)), int), "each address its own"
    assert take(sessions, budget, "10.0.0.1", at(15 * 60 - 1)) == dt.timedelta(seconds=1)
    assert isinstance(take(sessions, budget, "10.0.0.1", at(15 * 60)), int), "first expired"
    assert isinstance(take(sessions, budget, "10.0.0.1", at(15 * 60)), dt.timedelta)


def test_a_refusal_is_never_told_to_wait_zero_seconds(sessions: sessionmaker[Session]) -> None:
    budget = AddressBudget(1, WINDOW)
    assert isinstance(take(sessions, budget, "a", at(0)), int)
    assert take(sessions, budget, "a", at(15 * 60 - 0.001)) == dt.timedelta(seconds=1)


def test_successful_log_ins_give_their_slot_back(sessions: sessionmaker[Session]) -> None:
    budget = AddressBudget(2, WINDOW)
    for second in range(10):
        give_back(sessions, budget, take(sessions, budget, "office", at(second)))
    assert isinstance(take(sessions, budget, "office", at(10)), int)
    assert isinstance(take(sessions, budget, "office", at(11)), int)
    assert isinstance(take(sessions, budget, "office", at(12)), dt.timedelta)


def test_two_budgets_on_one_database_count_the_same_failures(
    sessions: sessionmaker[Session],
) -> None:
    """Two API hosts each have their own budget object: the failures are shared."""
    host_a, host_b = AddressBudget(3, WINDOW), AddressBudget(3, WINDOW)
    for second in (0, 1):
        assert isinstance(take(sessions, host_a, "10.1.1.1", at(second)), int)
    assert isinstance(take(sessions, host_b, "10.1.1.1", at(2)), int)
    assert isinstance(take(sessions, host_a, "10.1.1.1", at(3)), dt.timedelta)
    assert isinstance(take(sessions, host_b, "10.1.1.1", at(3)), dt.timedelta)


def test_expired_failures_are_deleted(sessions: sessionmaker[Session]) -> None:
    budget = AddressBudget(5, WINDOW)
    for n in range(50):
        take(sessions, budget, f"10.0.0.{n}", at(n))
    take(sessions, budget, "late", at(50 + 15 * 60))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 1
        assert budget.failures(session, "late", at(50 + 15 * 60)) == 1


def test_attempts_at_once_never_overshoot(sessions: sessionmaker[Session]) -> None:
    budget = AddressBudget(5, WINDOW)
    start = threading.Barrier(16)

    def one(n: int) -> int | dt.timedelta:
        start.wait(timeout=30)
        return take(sessions, budget, "10.9.9.9", at(n / 100))

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(16)))
    assert sum(isinstance(a, int) for a in answers) == 5


def test_a_budget_needs_a_failure_and_a_window() -> None:
    with pytest.raises(ValueError, match="at least one failure"):
        AddressBudget(0, WINDOW)
    with pytest.raises(ValueError, match="at least one failure"):
        AddressBudget(1, dt.timedelta(0))
