"""Monthly budgets (per key, environment, team and org): periods, the configured
budgets, atomic counters, the book that reserves and settles, its reservations, and
the waits and refusals of those that do not fit."""

from teamgate.budget.book import BudgetBook, SpendSource
from teamgate.budget.budgets import BudgetStatus
from teamgate.budget.counters import (
    BudgetCounters,
    BudgetScope,
    MemoryBudgetCounters,
    ReservationHandle,
    ReserveOutcome,
    ReserveResult,
    ScopeTotals,
    unreserved,
)
from teamgate.budget.period import BudgetPeriod, month_of, period_named
from teamgate.budget.reservation import Reservation
from teamgate.budget.scopes import Payer
from teamgate.budget.waiting import ReservationAbandoned

__all__ = [
    "BudgetBook",
    "BudgetCounters",
    "BudgetPeriod",
    "BudgetScope",
    "BudgetStatus",
    "MemoryBudgetCounters",
    "Payer",
    "Reservation",
    "ReservationAbandoned",
    "ReservationHandle",
    "ReserveOutcome",
    "ReserveResult",
    "ScopeTotals",
    "SpendSource",
    "month_of",
    "period_named",
    "unreserved",
]
