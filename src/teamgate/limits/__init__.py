"""Rate limits: GCRA over a counter protocol, the in-memory backend, and the limiter.

>>> from teamgate.limits import Limiter, MemoryCounters  # doctest: +SKIP
>>> limiter = Limiter(settings, MemoryCounters())  # doctest: +SKIP
>>> ticket = await limiter.admit("chatbot", model, tokens=1200)  # doctest: +SKIP
"""

from teamgate.limits.counters import Counters, Decision, RateCheck, SlotHandle
from teamgate.limits.gcra import GcraResult, gcra_check, gcra_peek, gcra_refund
from teamgate.limits.headers import format_reset, parse_reset
from teamgate.limits.limiter import ClientGone, Limiter
from teamgate.limits.memory import MemoryCounters
from teamgate.limits.ticket import Ticket

__all__ = [
    "ClientGone",
    "Counters",
    "Decision",
    "GcraResult",
    "Limiter",
    "MemoryCounters",
    "RateCheck",
    "SlotHandle",
    "Ticket",
    "format_reset",
    "gcra_check",
    "gcra_peek",
    "gcra_refund",
    "parse_reset",
]
