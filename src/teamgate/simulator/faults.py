"""Fault specs: what the simulator should do wrong for one request.

A spec is one or more comma-separated items, each ``name[;param[=value]]...``:

=========================  ==================================================
``429[;retry_after=S]``    Groq's 429 ``rate_limit_exceeded`` + ``retry-after``
``[;type=tokens]``         (default ``retry_after=1``, ``type=requests``)
``401``                    Groq's 401 ``invalid_api_key``
``413``                    Groq's 413 request too large (TPM)
``498``                    flex tier ``capacity_exceeded``
``500`` ``503;plain`` ...  any 4xx/5xx; ``plain``: a text/plain body (as a proxy sends)
``latency;s=S[;chunk_s=C]``  wait S seconds before answering, C between stream chunks
``stream_break;after=N``   stream: cut the connection after N content chunks, no
                           ``[DONE]``; non-stream: cut after half the body
``stream_error;after=N``   stream: after N content chunks send a chunk with a
                           top-level ``error`` and end the body without ``[DONE]``
``stream_no_usage``        stream without ``x_groq.usage`` and without the usage chunk
``malformed``              200 with a body that is not valid JSON
``hold[;s=S]``              wait until ``Simulator.release_held()`` (at most S s, default 30)
``reset``                  TCP reset before any response byte
``close``                  orderly close (FIN) before any response byte
``ok``                     no fault (useful in a scripted queue)
=========================  ==================================================

>>> plan = parse_fault_spec("latency;s=0.2,429;retry_after=60")
>>> plan.latency_s, plan.status, plan.retry_after_s
(0.2, 429, 60.0)
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

Disconnect = Literal["reset", "close"]


class FaultSpecError(ValueError):
    """A fault spec that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The parsed form of a fault spec; the default instance means "behave normally"."""

    spec: str = "ok"
    latency_s: float = 0.0
    chunk_delay_s: float = 0.0
    status: int | None = None
    plain: bool = False
    retry_after_s: float = 1.0
    limit_type: str = "requests"
    stream_break_after: int | None = None
    stream_error_after: int | None = None
    stream_no_usage: bool = False
    malformed: bool = False
    disconnect: Disconnect | None = None
    hold_s: float | None = None


NO_FAULT = FaultPlan()


def _params(parts: list[str], item: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip()
        if not name:
            raise FaultSpecError(f"empty parameter in fault {item!r}")
        params[name] = value.strip() if sep else ""
    return params


def _number(params: dict[str, str], name: str, default: float, item: str) -> float:
    raw = params.pop(name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FaultSpecError(f"{name} must be a number in fault {item!r}") from None
    if not value >= 0:
        raise FaultSpecError(f"{name} must be >= 0 in fault {item!r}")
    return value


def _count(params: dict[str, str], name: str, default: int, item: str) -> int:
    raw = params.pop(name, None)
    if raw is None:
        return default
    if not raw.isdigit():
        raise FaultSpecError(f"{name} must be a non-negative integer in fault {item!r}")
    return int(raw)


def _apply_item(plan: FaultPlan, item: str) -> FaultPlan:
    name, *rest = (p.strip() for p in item.split(";"))
    params = _params(rest, item)
    if name.isdigit():
        status = int(name)
        if not 400 <= status <= 599:
            raise FaultSpecError(f"status must be 4xx or 5xx in fault {item!r}")
        limit_type = params.pop("type", "requests")
        if limit_type not in ("requests", "tokens"):
            raise FaultSpecError(f"type must be requests or tokens in fault {item!r}")
        plan = replace(
            plan,
            status=status,
            plain=params.pop("plain", None) is not None,
            retry_after_s=_number(params, "retry_after", 1.0, item),
            limit_type=limit_type,
        )
    elif name == "latency":
        plan = replace(
            plan,
            latency_s=_number(params, "s", 1.0, item),
            chunk_delay_s=_number(params, "chunk_s", 0.0, item),
        )
    elif name == "stream_break":
        plan = replace(plan, stream_break_after=_count(params, "after", 1, item))
    elif name == "stream_error":
        plan = replace(plan, stream_error_after=_count(params, "after", 1, item))
    elif name == "hold":
        plan = replace(plan, hold_s=_number(params, "s", 30.0, item))
    elif name == "stream_no_usage":
        plan = replace(plan, stream_no_usage=True)
    elif name == "malformed":
        plan = replace(plan, malformed=True)
    elif name in ("reset", "close"):
        plan = replace(plan, disconnect="reset" if name == "reset" else "close")
    elif name != "ok":
        raise FaultSpecError(f"unknown fault {name!r}")
    if params:
        raise FaultSpecError(f"unknown parameter {next(iter(params))!r} in fault {item!r}")
    return plan


@lru_cache(maxsize=512)
def parse_fault_spec(spec: str) -> FaultPlan:
    """Parse a fault spec (see the module docstring); raise :class:`FaultSpecError`."""
    plan = replace(NO_FAULT, spec=spec.strip())
    for item in spec.split(","):
        if item.strip():
            plan = _apply_item(plan, item.strip())
    return plan


class FaultQueue:
    """Scripted faults, consumed one per request: per upstream key, or for any key.

    >>> queue = FaultQueue()
    >>> queue.push("gsk_a", ["429;retry_after=1"])
    >>> queue.pop("gsk_a").status, queue.pop("gsk_a")
    (429, None)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[FaultPlan]] = {}

    def push(self, key: str | None, specs: list[str] | tuple[str, ...]) -> None:
        """Queue specs for ``key`` (None: whichever key comes next). Parses them first."""
        plans = [parse_fault_spec(spec) for spec in specs]
        with self._lock:
            self._queues.setdefault(key, deque()).extend(plans)

    def pop(self, key: str | None) -> FaultPlan | None:
        """The next queued plan for ``key``, else the next for any key, else None."""
        if not self._queues:
            return None
        with self._lock:
            for which in (key, None):
                queue = self._queues.get(which)
                if queue:
                    plan = queue.popleft()
                    if not queue:
                        del self._queues[which]
                    return plan
        return None

    def pending(self, key: str | None = None) -> int:
        """How many plans are queued for ``key`` (None: the any-key queue)."""
        with self._lock:
            return len(self._queues.get(key, ()))

    def clear(self) -> None:
        """Drop every queued plan."""
        with self._lock:
            self._queues.clear()
