"""The errors of a reservation that does not fit: refused, or waited for in vain.

:func:`refusal` answers a ``REFUSED`` (the worst case does not fit beside the month's
settled spend: ``x-should-retry: false``) and tells the cut-off hook; :func:`wait_timeout`
answers a ``WAIT`` that lasted ``max_wait_s`` (``x-should-retry: true``). The words are
:mod:`teamgate.budget.messages`'.

``on_refused`` (e.g. ``AlertManager.exhausted_nowait``) hears of every ``REFUSED`` answer
as ``on_refused(scope, period_key, settled_pico, budget_pico, worst_case_pico,
resets_at_ts, reset_text)`` naming the scope that did not fit (the cut-off alert). It
must not block; its exceptions are logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from teamgate.budget.counters import BudgetScope, ReserveResult, ScopeTotals
from teamgate.budget.messages import refusal_message, wait_timeout_message
from teamgate.budget.period import BudgetPeriod
from teamgate.budget.scopes import ORG, counter_key, refusal_reason, scope_of_counter
from teamgate.http.errors import BudgetExceeded

RefusedHook = Callable[[str, str, int, int, int, float, str], None]

_log = logging.getLogger("teamgate.budget")
_ZERO = ScopeTotals(0, 0)


def refusal(
    result: ReserveResult,
    amount: int,
    period: BudgetPeriod,
    scopes: Sequence[BudgetScope],
    known: Mapping[str, ScopeTotals],
    on_refused: RefusedHook | None,
) -> BudgetExceeded:
    """The error of a ``REFUSED`` reservation of ``amount`` (``known``: the scopes' last
    totals, for those the answer did not include), having told ``on_refused``."""
    scope = scope_of_counter(result.scope_key or scopes[-1].key)
    if on_refused is not None:
        try:
            on_refused(
                scope,
                period.key,
                result.settled,
                result.budget_pico or 0,
                amount,
                period.end_ts,
                period.reset_text(),
            )
        except Exception:
            _log.exception("budget cut-off hook failed for %s", scope)
    message = refusal_message(
        scope=scope,
        settled=result.settled,
        budget=result.budget_pico or 0,
        amount=amount,
        period_key=period.key,
        reset_text=period.reset_text(),
    )
    # What is left in the tightest budget (settled spend only: reservations settle).
    available = [
        s.budget_pico - result.totals.get(s.key, known.get(s.key, _ZERO)).settled
        for s in scopes
        if s.budget_pico is not None
    ]
    return BudgetExceeded(
        message,
        reason=refusal_reason(scope),
        available_pusd=max(min(available), 0) if available else None,
        worst_pusd=amount,
    )


def wait_timeout(
    result: ReserveResult, amount: int, period: BudgetPeriod, waited: float
) -> BudgetExceeded:
    """The error of a reservation of ``amount`` still ``WAIT`` after ``waited`` seconds."""
    scope = scope_of_counter(result.scope_key or counter_key(ORG, period.key))
    message = wait_timeout_message(
        scope=scope,
        settled=result.settled,
        reserved=result.reserved,
        budget=result.budget_pico or 0,
        amount=amount,
        period_key=period.key,
        waited_s=waited,
    )
    return BudgetExceeded(
        message,
        headers={"x-should-retry": "true", "retry-after": "1"},
        reason=refusal_reason(scope),
    )
