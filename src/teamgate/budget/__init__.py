"""Monthly budgets (per key, environment, team and org): periods, atomic counters, and
the book that reserves and settles."""

from teamgate.budget.book import (
    BudgetBook,
    BudgetStatus,
    Reservation,
    ReservationAbandoned,
    SpendSource,
)
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
from teamgate.budget.scopes import Payer

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
