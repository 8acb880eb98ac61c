"""A paced SSE upstream that costs almost nothing: nginx sending prepared Groq streams.

Each stream is a fixed answer built with the simulator's encoder (one token per
chunk, ``x_groq.usage`` in the last chunk, then ``data: [DONE]``), every event
padded with spaces (valid JSON whitespace before the blank line) to a multiple
of one **slice** of ``SLICE`` bytes. nginx sends it with ``limit_rate`` and
``sendfile_max_chunk SLICE``: one write of one slice, then a timer of exactly
``SLICE * 1000 / limit_rate`` ms, so each content event leaves in its own write
at a steady pace, as Groq's server flushes one event per token. The pace is
chosen by a request header the gateways pass on: none for the fast stream
(``FAST_PERIOD_MS`` per event, a 70B-class model's ~333 tokens/s), ``x-bench-pace:
slow`` for one event a second (the held-open row).

nginx serves each answer from a file, with buffered writes (``sendfile`` would
round each write up to a page), and its response headers padded to whole
slices; a POST to a static file is answered through ``error_page 405 =200``,
which re-runs it as a GET. Its own CPU per event is measured and printed by
the benchmark (see ``bench/streams.py``), so the claim that it costs little is
checked on every run.

>>> spec = StreamSpec.build(content_events=10, prompt_tokens=7)
>>> len(spec.body) % SLICE, spec.events, spec.usage
(0, 13, (7, 10))
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from procs import Service, free_port, raise_nofile, wait_for_port
from upstream import GROQ_HEADERS, MODEL, http_common

from teamgate.simulator.completions import DONE_EVENT, Completion

SLICE = 273  # bytes per write: a content event, padded (273 * 1000 divides by 3 ms exactly)
FAST_PERIOD_MS = 3
SLOW_PERIOD_MS = 1000
FAST_CONTENT_EVENTS = 398  # + the role event, the final event and [DONE]: 401 events
SLOW_CONTENT_EVENTS = 16  # 20 slices: a stream held open for about 20 s
FAST_PROMPT_TOKENS = 19
SLOW_PROMPT_TOKENS = 23  # tells the slow streams' records from the fast ones' in the ledger


def _pad(event: bytes, size: int) -> bytes:
    """``event`` (one ``data: ...\\n\\n``) padded with spaces before its blank line."""
    if len(event) > size:
        raise ValueError(f"an event of {len(event)} bytes does not fit in {size}")
    return event[:-2] + b" " * (size - len(event)) + b"\n\n"


def _slices(size: int) -> int:
    return -(-size // SLICE)


@dataclass(frozen=True)
class StreamSpec:
    """One prepared stream: its bytes, its event count, and the usage it reports."""

    body: bytes
    events: int  # SSE events, [DONE] included
    slices: int  # writes of SLICE bytes
    usage: tuple[int, int]  # (prompt_tokens, completion_tokens) in x_groq.usage

    @classmethod
    def build(cls, *, content_events: int, prompt_tokens: int) -> StreamSpec:
        completion = Completion.plan(
            model=MODEL,
            prompt_tokens=prompt_tokens,
            cap=None,
            wanted=content_events,
            request_id="req_01benchstreamstreamstream",
            completion_id="chatcmpl-00000000-0000-4000-a000-benchstreams",
            fingerprint="fp_bench00000",
        )
        events = completion.stream(1, include_usage=False, with_usage=True)
        role = _pad(events.role, SLICE * _slices(len(events.role)))
        contents = [_pad(e, SLICE) for e in events.contents]
        tail_size = SLICE * _slices(len(events.final) + len(DONE_EVENT))
        final = _pad(events.final, tail_size - len(DONE_EVENT)) + DONE_EVENT
        body = role + b"".join(contents) + final
        return cls(
            body=body,
            events=len(contents) + 3,
            slices=len(body) // SLICE,
            usage=(prompt_tokens, content_events),
        )


FAST = StreamSpec.build(content_events=FAST_CONTENT_EVENTS, prompt_tokens=FAST_PROMPT_TOKENS)
SLOW = StreamSpec.build(content_events=SLOW_CONTENT_EVENTS, prompt_tokens=SLOW_PROMPT_TOKENS)


def smoke_specs() -> tuple[StreamSpec, StreamSpec]:
    """Short streams for ``--smoke`` (the same shape, a few events)."""
    return (
        StreamSpec.build(content_events=40, prompt_tokens=FAST_PROMPT_TOKENS),
        StreamSpec.build(content_events=2, prompt_tokens=SLOW_PROMPT_TOKENS),
    )


def nginx_stream_config(
    workdir: Path,
    port: int,
    fast: StreamSpec,
    slow: StreamSpec,
    *,
    slow_period_ms: int = SLOW_PERIOD_MS,
    pads: tuple[int, int] = (0, 0),
    slow_port: int | None = None,
) -> str:
    """One worker, no logs, the two paced answers (the header ``x-bench-pace: slow``
    chooses the slow one on ``port``; every request to ``slow_port`` gets it, for the
    gateways, which pass no such header on to Groq); 20,000 connections. ``pads``: the length of an
    ``x-bench-pad`` response header for each answer, so that its headers fill
    whole slices and every event starts a write of its own."""
    temp = workdir / "nginx-tmp"
    temp.mkdir(parents=True, exist_ok=True)
    (workdir / "fast.sse").write_bytes(fast.body)
    (workdir / "slow.sse").write_bytes(slow.body)
    fast_rate = SLICE * 1000 // FAST_PERIOD_MS
    slow_rate = SLICE * 1000 // slow_period_ms
    return f"""
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {workdir}/nginx-streams.pid;
error_log {workdir}/nginx-streams-error.log warn;
events {{ worker_connections 20000; multi_accept on; }}
http {{
{http_common(temp)}    # sendfile rounds each write up to a page; buffered writes keep the slice
    sendfile off;
    tcp_nodelay on;
    postpone_output 0;
    etag off;
    sendfile_max_chunk {SLICE};
    server {{
        listen 127.0.0.1:{port} reuseport backlog=8192;
        location / {{
            if ($http_x_bench_pace = "slow") {{ rewrite ^ /_bench_slow last; }}
            rewrite ^ /_bench_fast last;
        }}
        location = /_bench_fast {{
            internal;
            alias {workdir}/fast.sse;
            default_type text/event-stream;{GROQ_HEADERS}{_pad_header(pads[0])}
            limit_rate {fast_rate};
            error_page 405 =200 $uri;
        }}
        location = /_bench_slow {{
            internal;
            alias {workdir}/slow.sse;
            default_type text/event-stream;{GROQ_HEADERS}{_pad_header(pads[1])}
            limit_rate {slow_rate};
            error_page 405 =200 $uri;
        }}
    }}{_slow_server(workdir, slow_port, slow_rate, pads[1])}
}}
"""


def _slow_server(workdir: Path, port: int | None, rate: int, pad: int) -> str:
    if port is None:
        return ""
    return f"""
    server {{
        listen 127.0.0.1:{port} reuseport backlog=8192;
        location / {{ rewrite ^ /_bench_slow last; }}
        location = /_bench_slow {{
            internal;
            alias {workdir}/slow.sse;
            default_type text/event-stream;{GROQ_HEADERS}{_pad_header(pad)}
            limit_rate {rate};
            error_page 405 =200 $uri;
        }}
    }}"""


def _pad_header(length: int) -> str:
    return f"\n            add_header x-bench-pad {'p' * length} always;" if length else ""


def _head_size(port: int, slow: bool) -> int:
    """The size of nginx's response headers for one answer (fixed: dates have one length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        pace = b"x-bench-pace: slow\r\n" if slow else b""
        sock.sendall(b"POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n" + pace + b"\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            data = sock.recv(4096)
            if not data:
                raise RuntimeError("nginx closed the connection before its headers")
            got += data
    return got.index(b"\r\n\r\n") + 4


def _pad_for(head: int) -> int:
    """The ``x-bench-pad`` value length that makes ``head`` a multiple of SLICE."""
    line = len("x-bench-pad: \r\n")
    return (-(head + line + 1)) % SLICE + 1


def start_stream_nginx(
    workdir: Path, fast: StreamSpec = FAST, slow: StreamSpec = SLOW, **kwargs: int
) -> Service:
    """nginx serving the paced streams on a free port; returns once it listens.

    Started twice: once to measure its response headers, then with the padding
    header that makes them whole slices (so that no event straddles two writes).
    """
    port, slow_port = free_port(), free_port()
    conf = workdir / "nginx-streams.conf"
    conf.write_text(nginx_stream_config(workdir, port, fast, slow, **kwargs))
    probe = _start(workdir, conf, port)
    try:
        pads = (_pad_for(_head_size(port, False)), _pad_for(_head_size(port, True)))
    finally:
        probe.stop()
    conf.write_text(
        nginx_stream_config(workdir, port, fast, slow, pads=pads, slow_port=slow_port, **kwargs)
    )
    service = _start(workdir, conf, port)
    service.extra["slow_url"] = f"http://127.0.0.1:{slow_port}"
    return service


def _start(workdir: Path, conf: Path, port: int) -> Service:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log = workdir / "nginx-streams-stderr.log"
    proc = subprocess.Popen(
        [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "nginx-err.log")],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - lives with the process
        preexec_fn=raise_nofile,
    )
    service = Service("direct", proc, f"http://127.0.0.1:{port}")
    service.extra["kind"] = "nginx, paced prepared streams"
    wait_for_port(port, proc, log)
    return service
