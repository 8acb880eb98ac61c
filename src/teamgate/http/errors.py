"""Every error teamgate can answer with, in Groq's shape.

One hierarchy, one place that turns an error into bytes (:meth:`GatewayError.body`).
A handler raises; the app catches :class:`GatewayError` and sends
``status``, ``headers`` and ``body()``. Nothing else writes error bodies.

>>> err = ModelNotAllowed("Team `analytics` may not use model `x`.")
>>> err.status, err.code
(403, 'model_not_allowed')
"""

from __future__ import annotations

import orjson


class GatewayError(Exception):
    """Base of every client-visible error. Subclasses set status, type and code."""

    status: int = 500
    type: str = "internal_server_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if type is not None:
            self.type = type
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> bytes:
        """The JSON body Groq would send: ``{"error": {"message", "type", "code"}}``."""
        return orjson.dumps(
            {"error": {"message": self.message, "type": self.type, "code": self.code}}
        )


class InvalidRequest(GatewayError):
    """400: the body or a field is wrong."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class InvalidApiKey(GatewayError):
    """401: missing, unknown, revoked or expired client key (Groq's exact body)."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"

    def __init__(self, message: str = "Invalid API Key") -> None:
        super().__init__(message)


class PermissionDenied(GatewayError):
    """403: the key is valid but may not do this (e.g. another team's usage)."""

    status = 403
    type = "permission_error"
    code = "permission_denied"


class ModelNotAllowed(PermissionDenied):
    """403: the model is outside the team's allowlist."""

    type = "invalid_request_error"
    code = "model_not_allowed"


class NotFound(GatewayError):
    """404: unknown path or resource."""

    status = 404
    type = "invalid_request_error"
    code = "unknown_url"


class ModelNotFound(NotFound):
    """404: the model does not exist or the team may not see it."""

    code = "model_not_found"


class PayloadTooLarge(GatewayError):
    """413: the request body is over the configured limit."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class MethodNotAllowed(GatewayError):
    """405: the path exists but not with this method."""

    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


REFUSAL_HEADER = "x-teamgate-refusal"
"""The response header naming a refusal's reason (the ledger's ``refusal``; docs/refusals.md)."""

RATE_LIMIT_REASONS = ("team_rate_limit", "org_rate_limit", "groq_rate_limit")
"""Who refused a request for its rate: the team's own limits, the org's limits in the
config, or Groq (its headers said the organization's limit is exhausted)."""

BUDGET_REASONS = ("key_budget", "environment_budget", "team_budget", "org_budget")
"""Whose monthly budget refused a request: the client key's own, its environment's
sub-budget, the team's, or the organization's cap."""


class RateLimited(GatewayError):
    """429: a team or org rate limit is hit. ``type`` is ``requests`` or ``tokens`` as Groq's.

    The wire body stays Groq's (code ``rate_limit_exceeded``); ``reason`` (one of
    :data:`RATE_LIMIT_REASONS`) is what the ledger records and the
    ``x-teamgate-refusal`` header says, so the operator can tell a team's own limit
    from the org's and from Groq's.

    >>> RateLimited("m", retry_after_s=0.2, reason="org_rate_limit").headers["x-teamgate-refusal"]
    'org_rate_limit'
    """

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float,
        type: str = "requests",
        headers: dict[str, str] | None = None,
        reason: str = "team_rate_limit",
    ) -> None:
        wait = max(retry_after_s, 0.0)
        merged = {
            "retry-after": str(max(1, int(-(-wait // 1)))),
            "retry-after-ms": str(int(-(-wait * 1000 // 1))),
            REFUSAL_HEADER: reason,
        }
        merged.update(headers or {})
        super().__init__(message, type=type, headers=merged)
        self.retry_after_s = wait
        self.reason = reason


MAX_TOKENS_FIT_HEADER = "x-teamgate-max-tokens-fit"
"""On a budget refusal: the largest ``max_completion_tokens`` whose worst case fits now."""


class BudgetExceeded(GatewayError):
    """429 ``insufficient_quota``: the request's worst case does not fit in a monthly budget.

    ``x-should-retry: false`` stops the SDKs from retrying in vain. ``reason`` is one of
    :data:`BUDGET_REASONS`; ``available_pusd`` what is left of the tightest budget
    (budget minus settled spend), ``worst_pusd`` the request's worst case.
    :meth:`add_fit` tells the client the largest ``max_completion_tokens`` that fits.
    """

    status = 429
    type = "insufficient_quota"
    code = "budget_exceeded"

    def __init__(
        self,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        reason: str = "team_budget",
        available_pusd: int | None = None,
        worst_pusd: int = 0,
    ) -> None:
        merged = {"x-should-retry": "false", REFUSAL_HEADER: reason}
        merged.update(headers or {})
        super().__init__(message, headers=merged)
        self.reason = reason
        self.available_pusd = available_pusd
        self.worst_pusd = worst_pusd

    def add_fit(self, max_tokens_fit: int | None, *, field: str = "max_completion_tokens") -> None:
        """Say the largest ``field`` that fits now (None: unknown, nothing added).

        >>> err = BudgetExceeded("Team `t`'s budget cannot cover this request.")
        >>> err.add_fit(123); err.headers["x-teamgate-max-tokens-fit"], err.message[-53:]
        ('123', 'Send max_completion_tokens of at most 123 to fit now.')
        >>> err = BudgetExceeded("Spent."); err.add_fit(0); err.message
        'Spent. Not even the prompt fits in what is left: wait for the budget to reset.'
        """
        if max_tokens_fit is None:
            return
        self.headers[MAX_TOKENS_FIT_HEADER] = str(max_tokens_fit)
        if max_tokens_fit > 0:
            self.message += f" Send {field} of at most {max_tokens_fit} to fit now."
        else:
            self.message += (
                " Not even the prompt fits in what is left: wait for the budget to reset."
            )
        self.args = (self.message,)


class UpstreamKeyRejected(GatewayError):
    """503: Groq rejected every upstream key of the project; the operator is alerted."""

    status = 503
    type = "server_error"
    code = "upstream_key_rejected"


class UpstreamUnavailable(GatewayError):
    """502: Groq could not be reached or answered with something unusable."""

    status = 502
    type = "server_error"
    code = "upstream_unavailable"


class UpstreamTimeout(GatewayError):
    """504: Groq did not answer within ``upstream.timeout_s``.

    ``sent``: the request reached Groq (a read timeout, not a connect timeout), so
    Groq may finish and bill it.
    """

    status = 504
    type = "server_error"
    code = "upstream_timeout"

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class StateUnavailable(GatewayError):
    """503: the shared state (database, Redis) cannot be reached; failing closed."""

    status = 503
    type = "server_error"
    code = "gateway_state_unavailable"
