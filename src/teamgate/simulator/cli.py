"""``teamgate simulator`` / ``python -m teamgate.simulator``: serve the simulated Groq.

>>> main(["--port", "8090", "--completion-tokens", "32"])  # doctest: +SKIP
teamgate simulator listening on http://127.0.0.1:8090
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys

import uvicorn

from teamgate.simulator.app import create_simulator
from teamgate.simulator.config import SimulatorConfig
from teamgate.simulator.faults import FaultSpecError, parse_fault_spec


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="teamgate simulator", description="Serve a Groq stand-in (for tests and demos)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port")
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        metavar="KEY",
        help="accept only these upstream keys (repeatable); default: any gsk_ key",
    )
    parser.add_argument("--completion-tokens", type=int, default=16)
    parser.add_argument("--chunk-tokens", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--fault", default=None, help="default fault spec, e.g. '429;retry_after=2'"
    )
    parser.add_argument("--fast", action="store_true", help="count only (for benchmarks)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted; prints one line once listening."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.fault is not None:
        try:
            parse_fault_spec(args.fault)
        except FaultSpecError as exc:
            print(f"teamgate simulator: --fault: {exc}", file=sys.stderr)
            return 2
    try:
        config = SimulatorConfig(
            keys=set(args.keys) if args.keys else None,
            completion_tokens=args.completion_tokens,
            chunk_tokens=args.chunk_tokens,
            latency_s=args.latency,
            default_fault=args.fault,
            fast=args.fast,
        )
    except ValueError as exc:
        print(f"teamgate simulator: {exc}", file=sys.stderr)
        return 2
    simulator = create_simulator(config)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        sock.listen(2048)
    except OSError as exc:
        print(
            f"teamgate simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    uvicorn_config = uvicorn.Config(
        simulator.app,
        host=args.host,
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools",
        interface="asgi3",  # a bound method: uvicorn would guess ASGI 2
        ws="none",
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(uvicorn_config)
    print(f"teamgate simulator listening on http://{host}:{port}", flush=True)
    server.run(sockets=[sock])
    return 0
