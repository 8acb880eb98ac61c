"""The simulator as a benchmark upstream (when nginx is missing): fast mode, no rate limits.

Its announced ``x-ratelimit-*`` limits are set out of reach, or teamgate would
(rightly) hold requests once the simulated organisation ran out of tokens.

    python bench/sim_upstream.py --port 9000
"""

from __future__ import annotations

import argparse

import uvicorn

from teamgate.simulator import create_simulator
from teamgate.simulator.config import SimulatorConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    config = SimulatorConfig(
        fast=True, ratelimit_limit_requests=10**12, ratelimit_limit_tokens=10**15
    )
    uvicorn.run(
        create_simulator(config).app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        interface="asgi3",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
