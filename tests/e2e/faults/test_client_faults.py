"""Faults from clients: hang-ups mid-stream, slow readers, idle connections, pipelining,
oversized bodies."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.e2e.faults.conftest import ANALYTICS_UPSTREAM, FAULT_PATCH, assert_released
from tests.support.chat_checks import (
    MODEL,
    assert_groq_error,
    chat,
    chat_body,
    records_when,
    wait_until,
)


def _connect(gw: RunningGateway, rcvbuf: int | None = None) -> socket.socket:
    parts = urlsplit(gw.url)
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((parts.hostname, parts.port))
    return sock


def _request(gw: RunningGateway, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [
        "POST /openai/v1/chat/completions HTTP/1.1",
        f"host: {urlsplit(gw.url).netloc}",
        f"authorization: Bearer {gw.key('analytics')}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_client_hang_up_mid_stream_cancels_upstream_and_charges_an_estimate(
    fgw: RunningGateway,
) -> None:
    # 400 tokens in chunks of 4, 50 ms apart: the whole stream would take 5 s.
    headers = {"x-sim-fault": "latency;s=0;chunk_s=0.05", "x-sim-completion-tokens": "400"}
    sock = _connect(fgw)
    sock.sendall(_request(fgw, chat_body(stream=True, max_tokens=400), headers))
    received = b""
    while received.count(b"data: ") < 4:
        received += sock.recv(65536)
    wait_until(lambda: fgw.simulator.state.in_flight(ANALYTICS_UPSTREAM) == 1, what="streaming")
    hung_up = time.monotonic()
    sock.close()
    wait_until(
        lambda: fgw.simulator.state.in_flight(ANALYTICS_UPSTREAM) == 0,
        3.0,
        "the upstream request to be cancelled",
    )
    assert time.monotonic() - hung_up < 3.0, "upstream ran on although the client left"
    (rec,) = records_when(fgw, 1)
    assert rec.status == 200 and rec.usage_source == "estimated"
    assert 0 < rec.completion_tokens < 400 and rec.cost_pusd > 0
    assert fgw.simulator.state.billed(ANALYTICS_UPSTREAM) == (0, 0)
    assert_released(fgw)


@pytest.fixture
def big_gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    patch = {"teams": {"analytics": {"max_tokens_per_request": 400_000}}}
    yield from start_gateway(simulator, tmp_path, patch)


def test_slow_reader_is_back_pressured_not_buffered(big_gw: RunningGateway) -> None:
    """A reader that stops reading holds back the whole chain: the gateway stops reading
    Groq (the simulator cannot finish) instead of buffering the stream in memory.

    The stream is ~28 MB; the buffers in between (kernel socket buffers, uvicorn's
    64 KiB write buffer, aiohttp's read buffer) hold far less."""
    tokens = 400_000
    headers = {"x-sim-completion-tokens": str(tokens)}
    sock = _connect(big_gw, rcvbuf=4096)
    sock.sendall(_request(big_gw, chat_body(stream=True, max_tokens=tokens), headers))
    received = 0
    while received < 64 * 1024:
        received += len(sock.recv(4096))
    # Stop reading. If the gateway buffered without bound, the simulator would finish
    # sending within about a second (the whole stream takes < 1 s to a fast reader);
    # it must stay blocked instead.
    time.sleep(2.0)
    assert big_gw.simulator.state.in_flight(ANALYTICS_UPSTREAM) == 1
    # Read slowly for a while: still streaming, still bounded.
    for _ in range(20):
        received += len(sock.recv(4096))
        time.sleep(0.01)
    assert big_gw.simulator.state.in_flight(ANALYTICS_UPSTREAM) == 1
    sock.close()
    (rec,) = records_when(big_gw, 1, timeout_s=10)
    assert rec.usage_source == "estimated"


def test_hundreds_of_idle_connections_do_not_block_serving(fgw: RunningGateway) -> None:
    idle: list[socket.socket] = []
    try:
        for i in range(300):
            sock = _connect(fgw)
            if i % 2:
                sock.sendall(b"POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
            idle.append(sock)
        for _ in range(3):
            assert chat(fgw, timeout=5).status_code == 200
    finally:
        for sock in idle:
            sock.close()
    records_when(fgw, 3)
    assert_released(fgw)


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Parse ``count`` HTTP/1.1 responses with content-length from ``sock``."""
    data = b""
    out: list[tuple[int, bytes]] = []
    while len(out) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").split("\r\n")
            fields = dict(line.split(": ", 1) for line in head[1:])
            length = int({k.lower(): v for k, v in fields.items()}["content-length"])
            if len(data) >= head_end + 4 + length:
                body = data[head_end + 4 : head_end + 4 + length]
                out.append((int(head[0].split()[1]), body))
                data = data[head_end + 4 + length :]
                continue
        chunk = sock.recv(65536)
        assert chunk, "connection closed early"
        data += chunk
    return out


def test_pipelined_requests_are_answered_in_order(fgw: RunningGateway) -> None:
    sock = _connect(fgw)
    sock.settimeout(10)
    bad = b'{"model": "' + MODEL.encode() + b'"}'  # no messages: 400
    sock.sendall(_request(fgw, chat_body()) + _request(fgw, bad) + _request(fgw, chat_body()))
    answers = _read_responses(sock, 3)
    sock.close()
    assert [status for status, _ in answers] == [200, 400, 200]
    assert orjson.loads(answers[1][1])["error"]["code"] == "invalid_request"
    records_when(fgw, 3)
    assert_released(fgw)


@pytest.fixture
def small_gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    yield from start_gateway(
        simulator, tmp_path, {**FAULT_PATCH, "server": {"max_body_bytes": 2048}}
    )


def test_oversized_bodies_are_413_and_never_forwarded(small_gw: RunningGateway) -> None:
    big = chat_body(content="x" * 5000)
    headers = {"authorization": f"Bearer {small_gw.key('analytics')}"}
    url = small_gw.url + "/openai/v1/chat/completions"
    assert_groq_error(httpx.post(url, content=big, headers=headers), 413, "request_too_large")

    def chunks() -> Iterator[bytes]:  # no content-length: chunked transfer encoding
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    resp = httpx.post(url, content=chunks(), headers=headers)
    assert_groq_error(resp, 413, "request_too_large")
    assert small_gw.simulator.state.request_count() == 0
    assert chat(small_gw).status_code == 200
    assert_released(small_gw)
