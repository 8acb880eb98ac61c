"""The upstream that costs almost nothing: nginx answering fixed Groq-shaped bodies.

The answers are built with the simulator's own encoder, so they are exactly
Groq's shape: a chat completion with ``usage`` and ``x_groq.id``, and (for a
request carrying the header ``x-bench-stream: 1``) a stream of SSE chunks with
``x_groq.usage`` in the last one, then ``[DONE]``. A second port always
streams (for LiteLLM, which does not pass arbitrary headers on).

Without nginx (``--smoke`` on a machine that lacks it), the simulator in its
``fast`` mode stands in.

>>> # with NginxUpstream(workdir) as up: print(up.url, up.stream_url)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from procs import Service, free_port, wait_for_port

from teamgate.simulator.completions import Completion

MODEL = "llama-3.1-8b-instant"
UPSTREAM_KEY = "gsk_bench_upstream_key_0001"


def fixed_completion() -> Completion:
    return Completion.plan(
        model=MODEL,
        prompt_tokens=19,
        cap=None,
        wanted=12,
        request_id="req_01benchbenchbenchbenchbench",
        completion_id="chatcmpl-00000000-0000-4000-a000-benchbenchbe",
        fingerprint="fp_bench00000",
    )


def answer_bodies() -> tuple[bytes, bytes]:
    """(the non-streaming JSON body, the whole SSE stream)."""
    completion = fixed_completion()
    events = completion.stream(4, include_usage=False, with_usage=True).all()
    return completion.body(), b"".join(events)


def _nginx_string(data: bytes) -> str:
    text = data.decode()
    if "$" in text:
        raise ValueError("nginx would expand '$' in a fixed answer")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


GROQ_HEADERS = """
        add_header x-request-id req_01benchbenchbenchbenchbench always;
        add_header x-ratelimit-limit-requests 1000000000 always;
        add_header x-ratelimit-remaining-requests 999999999 always;
        add_header x-ratelimit-limit-tokens 1000000000 always;
        add_header x-ratelimit-remaining-tokens 999999999 always;
        add_header x-groq-region bench always;
"""


def http_common(temp: Path) -> str:
    """The ``http {}`` settings every bench nginx shares: no logs, temp files in ``temp``,
    connections kept open for the whole run."""
    return f"""    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server_tokens off;
    client_body_buffer_size 64k;
"""


def nginx_config(workdir: Path, port: int, stream_port: int) -> str:
    """An nginx.conf: one process, no logs, fixed answers, long keep-alive."""
    body, stream = answer_bodies()
    temp = workdir / "nginx-tmp"
    temp.mkdir(parents=True, exist_ok=True)
    return f"""
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
{http_common(temp)}    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            if ($http_x_bench_stream) {{ rewrite ^ /_bench_stream last; }}
            default_type application/json;{GROQ_HEADERS}
            return 200 {_nginx_string(body)};
        }}
        location = /_bench_stream {{
            internal;
            default_type text/event-stream;{GROQ_HEADERS}
            return 200 {_nginx_string(stream)};
        }}
    }}
    server {{
        listen 127.0.0.1:{stream_port} reuseport;
        location / {{
            default_type text/event-stream;{GROQ_HEADERS}
            return 200 {_nginx_string(stream)};
        }}
    }}
}}
"""


def start_nginx(workdir: Path) -> Service:
    """nginx on a free port (and a second, always-streaming one); returns once it listens."""
    port, stream_port = free_port(), free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(workdir, port, stream_port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen(
        [nginx, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "nginx-error.log")],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "nginx-stderr.log", "wb"),  # noqa: SIM115 - lives with the process
    )
    service = Service("nginx", proc, f"http://127.0.0.1:{port}")
    service.stream_url = f"http://127.0.0.1:{stream_port}"
    service.extra["kind"] = "nginx, fixed answers"
    wait_for_port(port, proc, workdir / "nginx-stderr.log")
    wait_for_port(stream_port, proc, workdir / "nginx-stderr.log")
    return service


def start_simulator(workdir: Path) -> Service:
    """The simulator in fast mode, the stand-in when nginx is not installed."""
    port = free_port()
    log = workdir / "simulator.log"
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sim_upstream.py")), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115 - lives with the process
    )
    service = Service("simulator", proc, f"http://127.0.0.1:{port}")
    service.stream_url = service.url
    service.extra["kind"] = "teamgate simulator, fast mode (nginx not installed)"
    wait_for_port(port, proc, log)
    return service
