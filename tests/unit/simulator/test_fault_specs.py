"""Parsing fault specs, the scripted queue, key registry and duration format (no server)."""

from __future__ import annotations

import pytest

from teamgate.simulator import FaultSpecError, parse_fault_spec
from teamgate.simulator.asgi import SimulatedDisconnect, drop_connection
from teamgate.simulator.faults import NO_FAULT, FaultQueue
from teamgate.simulator.keys import KeyRegistry
from teamgate.simulator.ratelimits import format_duration
from teamgate.simulator.state import key_fingerprint


def test_parse_each_kind() -> None:
    assert parse_fault_spec("429").status == 429
    assert parse_fault_spec("429").retry_after_s == 1.0
    plan = parse_fault_spec("429;retry_after=60;type=tokens")
    assert (plan.retry_after_s, plan.limit_type) == (60.0, "tokens")
    assert parse_fault_spec("503;plain").plain
    assert parse_fault_spec("latency;s=0.2;chunk_s=0.01").chunk_delay_s == 0.01
    assert parse_fault_spec("stream_break;after=2").stream_break_after == 2
    assert parse_fault_spec("stream_break").stream_break_after == 1
    assert parse_fault_spec("stream_error;after=0").stream_error_after == 0
    assert parse_fault_spec("stream_no_usage").stream_no_usage
    assert parse_fault_spec("malformed").malformed
    assert parse_fault_spec("reset").disconnect == "reset"
    assert parse_fault_spec("close").disconnect == "close"
    assert parse_fault_spec("hold").hold_s == 30.0
    combined = parse_fault_spec(" latency;s=1 , 500 ")
    assert (combined.latency_s, combined.status) == (1.0, 500)
    assert parse_fault_spec("ok") == NO_FAULT


@pytest.mark.parametrize(
    "spec",
    [
        "boom",
        "200",
        "600",
        "429;retry_after=x",
        "429;retry_after=-1",
        "latency;ms=3",
        "stream_break;after=-1",
        "429;type=bananas",
        "500;=3",
    ],
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault_spec(spec)


def test_queue_order_and_fallback() -> None:
    queue = FaultQueue()
    queue.push(None, ["500"])
    queue.push("gsk_a", ["429", "401"])
    assert [queue.pop("gsk_a").status for _ in range(3)] == [429, 401, 500]  # type: ignore[union-attr]
    assert queue.pop("gsk_a") is None
    with pytest.raises(FaultSpecError):
        queue.push("gsk_a", ["429", "nonsense"])
    assert queue.pending("gsk_a") == 0  # nothing half-queued


def test_key_registry() -> None:
    registry = KeyRegistry({"gsk_one"})
    assert registry.accepts("gsk_one") and not registry.accepts("gsk_two")
    registry.add("gsk_two")
    registry.revoke("gsk_one")
    assert registry.accepts("gsk_two") and not registry.accepts("gsk_one")
    registry.reset()
    assert registry.accepts("gsk_one") and not registry.accepts("gsk_two")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.004, "0s"),
        (0.25, "250ms"),
        (7.66, "7.66s"),
        (179.56, "2m59.56s"),
        (180, "3m0s"),
        (7.6, "7.6s"),
        (3725.5, "1h2m5.5s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_key_fingerprint_hides_the_key() -> None:
    assert key_fingerprint("gsk_abcdefghijklmnop1234") == "gsk_…1234"


async def test_drop_connection_without_uvicorn_raises() -> None:
    async def send(message: object) -> None:
        return None

    async def receive() -> dict[str, str]:
        return {"type": "http.disconnect"}

    with pytest.raises(SimulatedDisconnect):
        await drop_connection(send, receive, reset=True)  # type: ignore[arg-type]
