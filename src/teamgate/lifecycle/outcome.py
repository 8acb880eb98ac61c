"""How a metered request ended: a closed set, each with its one ledger rule.

Every metered request ends in exactly one :class:`Outcome`, and the outcome
alone decides what its single ledger record says and what the budget is
charged:

==============================  ======  ===============  ============================
outcome                         status  refusal          budget
==============================  ======  ===============  ============================
``SERVED``                      200     —                the answer's cost
``UPSTREAM_ERROR``              Groq's  —                nothing (Groq bills no error)
``UPSTREAM_UNREACHABLE``        502/503 —                nothing
``UPSTREAM_TIMEOUT_AFTER_SEND`` 504     —                the worst case, ``estimated``
``CONNECT_TIMEOUT``             504     —                nothing (never sent)
``CLIENT_GONE_QUEUED``          499     —                nothing (never forwarded)
``CLIENT_GONE_MID_ANSWER``      200     —                what was produced (estimate)
``STREAM_CUT``                  200     —                what was produced (estimate)
``BUDGET_REFUSED``              429     ``*_budget``     nothing
``LIMIT_REFUSED``               429/413 ``*_rate_limit`` nothing
``BACKLOGGED``                  503     ``backlogged``   nothing (ledger cannot be written)
``INVALID``                     4xx     the error code   nothing
``FAILED``                      500     —                nothing (a gateway bug)
==============================  ======  ===============  ============================

A refusal's code says whose limit it was (docs/refusals.md): ``key_budget``,
``environment_budget``, ``team_budget`` or ``org_budget``, ``team_rate_limit``,
``org_rate_limit`` or ``groq_rate_limit``, taken from the refusing error; the
table's code is the fallback. A client that left is an outcome, not a refusal.

>>> Outcome.BUDGET_REFUSED.refusal, Outcome.UPSTREAM_TIMEOUT_AFTER_SEND.charge
('team_budget', <Charge.WORST_CASE: 'worst_case'>)
"""

from __future__ import annotations

import enum


class Charge(enum.Enum):
    """What the budget is charged for an outcome."""

    NOTHING = "nothing"  # the reservation is released
    USAGE = "usage"  # the cost read from (or estimated for) the answer
    WORST_CASE = "worst_case"  # the whole reservation, marked estimated


class Outcome(enum.Enum):
    """How one metered request ended (see the module docstring)."""

    SERVED = ("served", Charge.USAGE, "", True)
    UPSTREAM_ERROR = ("upstream_error", Charge.NOTHING, "", True)
    UPSTREAM_UNREACHABLE = ("upstream_unreachable", Charge.NOTHING, "", True)
    UPSTREAM_TIMEOUT_AFTER_SEND = ("upstream_timeout_after_send", Charge.WORST_CASE, "", True)
    CONNECT_TIMEOUT = ("connect_timeout", Charge.NOTHING, "", True)
    CLIENT_GONE_QUEUED = ("client_gone_queued", Charge.NOTHING, "", False)
    CLIENT_GONE_MID_ANSWER = ("client_gone_mid_answer", Charge.USAGE, "", True)
    STREAM_CUT = ("stream_cut", Charge.USAGE, "", True)
    BUDGET_REFUSED = ("budget_refused", Charge.NOTHING, "team_budget", False)
    LIMIT_REFUSED = ("limit_refused", Charge.NOTHING, "team_rate_limit", False)
    BACKLOGGED = ("backlogged", Charge.NOTHING, "backlogged", False)
    INVALID = ("invalid", Charge.NOTHING, "", False)
    FAILED = ("failed", Charge.NOTHING, "", False)

    def __init__(self, label: str, charge: Charge, refusal: str, forwarded: bool) -> None:
        self.label = label
        self.charge = charge
        self.refusal = refusal  # the fallback; INVALID and refusals carry the error's own
        self.forwarded = forwarded  # did (or may) Groq see the request?
