"""One lifecycle for every metered request: admit, reserve, forward, settle, ONE record.

:class:`MeteredRequest` owns the stages; endpoint adapters (``teamgate.endpoints``)
supply the parsing, the policy, the worst-case :class:`Demand`, the bytes to
send and the :class:`Meter` that reads the answer's cost. How a request ended
is one :class:`Outcome`, and the outcome decides the ledger record.
"""

from teamgate.lifecycle.bill import NO_BILL, Bill, Meter, ObjectMeter, TokenMeter
from teamgate.lifecycle.demand import Demand
from teamgate.lifecycle.headers import answer_headers, payer_of, team_headers
from teamgate.lifecycle.metered import CLIENT_CLOSED, MeteredRequest
from teamgate.lifecycle.outcome import Charge, Outcome
from teamgate.lifecycle.watch import ClientWatch

__all__ = [
    "CLIENT_CLOSED",
    "NO_BILL",
    "Bill",
    "Charge",
    "ClientWatch",
    "Demand",
    "Meter",
    "MeteredRequest",
    "ObjectMeter",
    "Outcome",
    "TokenMeter",
    "answer_headers",
    "payer_of",
    "team_headers",
]
