"""Groq's error answers, as the simulator sends them: ``(status, headers, body)``.

>>> status, headers, body = invalid_api_key()
>>> status, orjson.loads(body)["error"]
(401, {'message': 'Invalid API Key', 'type': 'invalid_request_error', 'code': 'invalid_api_key'})
"""

from __future__ import annotations

import math

import orjson

from teamgate.simulator.faults import FaultPlan

ORG_ID = "org_sim"
ErrorAnswer = tuple[int, list[tuple[bytes, bytes]], bytes]

_JSON = (b"content-type", b"application/json")
_TEXT = (b"content-type", b"text/plain; charset=utf-8")

_GENERIC_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("Bad request", "invalid_request_error", "invalid_request"),
    403: ("Forbidden", "permission_error", "permission_denied"),
    404: ("Not found", "invalid_request_error", "not_found"),
    408: ("Request timed out", "invalid_request_error", "request_timeout"),
    409: ("Conflict", "invalid_request_error", "conflict"),
    422: ("Unprocessable entity", "invalid_request_error", "unprocessable_entity"),
    424: ("Failed dependency", "invalid_request_error", "failed_dependency"),
    499: ("Request cancelled by client", "invalid_request_error", "request_cancelled"),
    500: ("Internal Server Error", "internal_server_error", "internal_server_error"),
    502: ("Bad Gateway", "internal_server_error", "bad_gateway"),
    503: ("Service Unavailable", "internal_server_error", "service_unavailable"),
    504: ("Gateway Timeout", "internal_server_error", "gateway_timeout"),
}


def error_answer(
    status: int,
    message: str,
    type: str,
    code: str | None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> ErrorAnswer:
    """A Groq-shaped JSON error (``code`` omitted from the body when None)."""
    error: dict[str, str] = {"message": message, "type": type}
    if code is not None:
        error["code"] = code
    return status, [_JSON, *(headers or [])], orjson.dumps({"error": error})


def invalid_api_key() -> ErrorAnswer:
    """401 exactly as Groq sends it."""
    return error_answer(401, "Invalid API Key", "invalid_request_error", "invalid_api_key")


def model_not_found(model: str) -> ErrorAnswer:
    """404 ``model_not_found`` with Groq's message."""
    return error_answer(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def invalid_request(message: str, code: str | None = None) -> ErrorAnswer:
    """400 ``invalid_request_error``."""
    return error_answer(400, message, "invalid_request_error", code)


def unknown_url(method: str, path: str) -> ErrorAnswer:
    """404 for a path Groq does not serve."""
    return error_answer(
        404,
        f"Unknown request URL: {method} {path}. Please check the URL for typos, "
        "or see the docs at https://console.groq.com/docs/",
        "invalid_request_error",
        "unknown_url",
    )


def _seconds(value: float) -> str:
    return f"{value:g}"


def rate_limited(model: str, plan: FaultPlan, requested_tokens: int) -> ErrorAnswer:
    """429 ``rate_limit_exceeded`` in Groq's words, with ``retry-after`` (whole seconds)."""
    wait = plan.retry_after_s
    if plan.limit_type == "tokens":
        what, limit, used, requested = "tokens per minute (TPM)", 6000, 6000, requested_tokens
    else:
        what, limit, used, requested = "requests per minute (RPM)", 30, 30, 1
    message = (
        f"Rate limit reached for model `{model}` in organization `{ORG_ID}` service tier "
        f"`on_demand` on {what}: Limit {limit}, Used {used}, Requested {requested}. "
        f"Please try again in {_seconds(wait)}s. Need more tokens? Upgrade to Dev Tier today "
        "at https://console.groq.com/settings/billing"
    )
    retry_after = str(math.ceil(wait)).encode()
    return error_answer(
        429, message, plan.limit_type, "rate_limit_exceeded", [(b"retry-after", retry_after)]
    )


def request_too_large(model: str, requested_tokens: int) -> ErrorAnswer:
    """413 Groq's "Request too large" on TPM."""
    message = (
        f"Request too large for model `{model}` in organization `{ORG_ID}` service tier "
        f"`on_demand` on tokens per minute (TPM): Limit 6000, Requested {requested_tokens}, "
        "please reduce your message size and try again. Need more tokens? Upgrade to Dev Tier "
        "today at https://console.groq.com/settings/billing"
    )
    return error_answer(413, message, "tokens", "rate_limit_exceeded")


def capacity_exceeded() -> ErrorAnswer:
    """498: the flex tier is at capacity."""
    return error_answer(
        498,
        "The flex tier is at capacity and the request won't be processed. "
        "Please try again later or use the on_demand service tier.",
        "capacity_exceeded",
        "capacity_exceeded",
    )


def fault_answer(plan: FaultPlan, model: str, requested_tokens: int) -> ErrorAnswer:
    """The error a fault plan with a ``status`` asks for."""
    status = plan.status or 500
    if plan.plain:
        text = _GENERIC_MESSAGES.get(status, ("Error", "", ""))[0]
        return status, [_TEXT], f"{status} {text}\n".encode()
    if status == 401:
        return invalid_api_key()
    if status == 429:
        return rate_limited(model, plan, requested_tokens)
    if status == 413:
        return request_too_large(model, requested_tokens)
    if status == 498:
        return capacity_exceeded()
    if status == 404:
        return model_not_found(model)
    message, type, code = _GENERIC_MESSAGES.get(
        status,
        (
            "Simulated error",
            "internal_server_error" if status >= 500 else "invalid_request_error",
            "simulated_error",
        ),
    )
    return error_answer(status, message, type, code)
