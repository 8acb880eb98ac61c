"""A :class:`Ticket` is one admitted request's claim on rate limits and slots.

The limiter hands one out per admission; the request handler corrects the
token reservation once the actual usage is known, reads the headers, and
releases the concurrency slots when the response is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from teamgate.limits.counters import RateCheck, SlotHandle


@dataclass(frozen=True, slots=True)
class Closing:
    """What a ticket's end gives back, for a caller that does it in one step of its own
    (:meth:`Ticket.closing`): ``refund`` tokens to each of ``checks`` (none when 0), and
    the concurrency ``slots`` (each released through its handle)."""

    refund: int
    checks: tuple[RateCheck, ...]
    slots: tuple[SlotHandle, ...]


class Ticket:
    """An admitted request. Release it exactly when the request ends (idempotent).

    Usage::

        ticket = await limiter.admit("chatbot", model, tokens=prompt_bound + max_completion)
        try:
            response_headers.update(ticket.headers())
            ...
            await ticket.correct(usage.total_tokens)
        finally:
            await ticket.release()

    or ``async with await limiter.admit(...) as ticket: ...`` (releases on exit).
    """

    __slots__ = (
        "_closed",
        "_headers",
        "_refund",
        "_refunded",
        "_release",
        "_released",
        "_token_checks",
        "model",
        "reserved_tokens",
        "slots",
        "team",
    )

    def __init__(
        self,
        *,
        team: str,
        model: str,
        reserved_tokens: int,
        token_checks: Sequence[RateCheck],
        refund: Callable[[Sequence[RateCheck], int], Awaitable[None]],
        release: Callable[[], Awaitable[None]],
        headers: Callable[[], dict[str, str]],
        slots: tuple[SlotHandle, ...] = (),
        closed: Callable[[Sequence[RateCheck], Sequence[float]], None] | None = None,
    ) -> None:
        self.team = team
        self.model = model
        self.reserved_tokens = reserved_tokens
        self._token_checks = tuple(token_checks)
        self._refund = refund
        self._release = release
        self._headers = headers
        self._closed = closed
        self.slots = slots
        self._refunded = 0
        self._released = False

    async def correct(self, actual_tokens: int) -> None:
        """Give back ``reserved - actual`` tokens to every TPM/TPD counter that was charged.

        Never charges more than was reserved; calling it again with a smaller
        figure refunds only the additional difference.
        """
        refund = self.reserved_tokens - max(actual_tokens, 0) - self._refunded
        if refund <= 0 or not self._token_checks:
            return
        self._refunded += refund
        await self._refund(self._token_checks, refund)

    async def release(self) -> None:
        """Free this request's concurrency slots; safe to call more than once."""
        if self._released:
            return
        self._released = True
        await self._release()

    def closing(self, actual_tokens: int) -> Closing | None:
        """:meth:`correct` and :meth:`release` handed over to the caller, who does both in
        one step of its own (one Redis script with the budget's settle). The ticket counts
        as corrected and released from now on; the caller reports the new TATs of the
        refunded checks with :meth:`closed`. None if released already (nothing to do)."""
        if self._released:
            return None
        self._released = True
        refund = self.reserved_tokens - max(actual_tokens, 0) - self._refunded
        if refund <= 0 or not self._token_checks:
            return Closing(0, (), self.slots)
        self._refunded += refund
        return Closing(refund, self._token_checks, self.slots)

    def closed(self, closing: Closing, tats: Sequence[float]) -> None:
        """The caller of :meth:`closing` did it: ``tats`` are the refunded checks' new TATs
        (empty if it could not tell); the limiter's view is updated and queues woken."""
        if self._closed is not None:
            self._closed(closing.checks if tats else (), tats)

    def headers(self) -> dict[str, str]:
        """The team's ``x-ratelimit-*`` headers now (see :meth:`Limiter.headers`)."""
        return self._headers()

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    def __repr__(self) -> str:
        return f"Ticket(team={self.team!r}, model={self.model!r}, tokens={self.reserved_tokens})"
