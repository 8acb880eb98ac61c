"""What an answer costs: a :class:`Bill`, read by the endpoint's :class:`Meter`.

An endpoint adapter hands the lifecycle a meter; the lifecycle asks it for the
bill of a whole answer, of a stream (reported, or estimated when cut), and of
the worst case (a request Groq received but did not answer in time).
:class:`TokenMeter` is the meter of every token-priced endpoint (chat,
Responses, embeddings); audio has its own.

>>> from teamgate.config.schema import Settings
>>> from teamgate.pricing.prices import PriceTable
>>> prices = PriceTable.from_settings(Settings(teams={}))
>>> meter = TokenMeter(prices, "llama-3.1-8b-instant", 300, 10)
>>> bill = meter.whole(b'{"usage":{"prompt_tokens":9,"completion_tokens":2}}', "application/json")
>>> bill.usage, bill.source, bill.tokens
(Usage(prompt_tokens=9, completion_tokens=2, cached_tokens=0), 'reported', 11)
>>> meter.worst().source, meter.worst().tokens
('estimated', 310)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from teamgate.ledger.records import UsageSource
from teamgate.lifecycle.streaming import ResponseFacts, StreamMeter, Usage, read_usage
from teamgate.pricing.prices import PriceTable


@dataclass(frozen=True, slots=True)
class Bill:
    """The cost of one answer, and what the ledger record says about it.

    ``audio_seconds`` is the billed audio length (audio endpoints), else None.
    """

    usage: Usage | None
    cost_pusd: int
    source: UsageSource
    groq_id: str = ""
    model_served: str = ""
    audio_seconds: int | None = None

    @property
    def tokens(self) -> int:
        """The tokens to keep counted against TPM/TPD."""
        return self.usage.total_tokens if self.usage is not None else 0


NO_BILL = Bill(None, 0, "none")


class Meter(Protocol):
    """How an endpoint reads the cost of Groq's answer."""

    def whole(self, data: bytes, content_type: str) -> Bill:
        """The bill of a whole 200 answer."""
        ...

    def stream(self) -> StreamMeter:
        """A fresh meter to feed an SSE answer through."""
        ...

    def streamed(self, meter: StreamMeter) -> Bill:
        """The bill once the stream ended (Groq's usage, or an estimate)."""
        ...

    def worst(self) -> Bill:
        """The worst case, marked estimated: what a request Groq received may cost."""
        ...


class TokenMeter:
    """The :class:`Meter` of token-priced endpoints.

    ``facts`` reads usage, Groq's id and the served model from a whole answer
    (chat's :func:`~teamgate.lifecycle.streaming.read_usage` by default); ``stream_meter``
    makes the SSE meter (chat's :class:`~teamgate.lifecycle.streaming.StreamMeter`).
    """

    __slots__ = ("_facts", "_stream_meter", "cap", "model", "prices", "prompt_bound")

    def __init__(
        self,
        prices: PriceTable,
        model: str,
        prompt_bound: int,
        cap: int,
        *,
        facts: Callable[[bytes], ResponseFacts] = read_usage,
        stream_meter: Callable[[], StreamMeter] = StreamMeter,
    ) -> None:
        self.prices = prices
        self.model = model
        self.prompt_bound = prompt_bound
        self.cap = cap
        self._facts = facts
        self._stream_meter = stream_meter

    def _bill(self, usage: Usage, source: UsageSource, groq_id: str, model: str) -> Bill:
        cost = self.prices.cost(
            self.model, usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens
        )
        return Bill(usage, cost, source, groq_id, model)

    def whole(self, data: bytes, content_type: str) -> Bill:
        facts = self._facts(data)
        if facts.usage is None:
            return self._bill(
                Usage(self.prompt_bound, self.cap), "estimated", facts.groq_id, facts.model
            )
        return self._bill(facts.usage, "reported", facts.groq_id, facts.model)

    def stream(self) -> StreamMeter:
        return self._stream_meter()

    def streamed(self, meter: StreamMeter) -> Bill:
        if meter.usage is not None:  # Groq's own figure, even if the end was lost
            return self._bill(meter.usage, "reported", meter.groq_id, meter.model)
        usage = Usage(self.prompt_bound, meter.estimated_completion_tokens(self.cap))
        return self._bill(usage, "estimated", meter.groq_id, meter.model)

    def worst(self) -> Bill:
        return self._bill(Usage(self.prompt_bound, self.cap), "estimated", "", "")


class ObjectMeter:
    """The :class:`Meter` of a request that creates a Groq object (a file, a batch):
    nothing is charged when it is answered (a batch is charged when it settles); a
    request Groq received but did not answer is charged ``worst_case_pusd``, since
    the object may exist and run at Groq.

    >>> meter = ObjectMeter(500)
    >>> meter.whole(b'{"id": "batch_1"}', "application/json").groq_id, meter.worst().cost_pusd
    ('batch_1', 500)
    """

    __slots__ = ("worst_case_pusd",)

    def __init__(self, worst_case_pusd: int = 0) -> None:
        self.worst_case_pusd = worst_case_pusd

    def whole(self, data: bytes, content_type: str) -> Bill:
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return NO_BILL
        object_id = obj.get("id") if isinstance(obj, dict) else None
        return Bill(None, 0, "none", object_id if isinstance(object_id, str) else "")

    def stream(self) -> StreamMeter:
        return StreamMeter()

    def streamed(self, meter: StreamMeter) -> Bill:
        return NO_BILL

    def worst(self) -> Bill:
        return Bill(None, self.worst_case_pusd, "estimated")
