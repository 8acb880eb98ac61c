"""A :class:`Ticket` is one admitted request's claim on rate limits and slots.

The limiter hands one out per admission; the request handler corrects the
token reservation once the actual usage is known, reads the headers, and
releases the concurrency slots when the response is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from teamgate.limits.counters import RateCheck


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
        "_headers",
        "_refund",
        "_refunded",
        "_release",
        "_released",
        "_token_checks",
        "model",
        "reserved_tokens",
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
    ) -> None:
        self.team = team
        self.model = model
        self.reserved_tokens = reserved_tokens
        self._token_checks = tuple(token_checks)
        self._refund = refund
        self._release = release
        self._headers = headers
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

    def headers(self) -> dict[str, str]:
        """The team's ``x-ratelimit-*`` headers now (see :meth:`Limiter.headers`)."""
        return self._headers()

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    def __repr__(self) -> str:
        return f"Ticket(team={self.team!r}, model={self.model!r}, tokens={self.reserved_tokens})"
