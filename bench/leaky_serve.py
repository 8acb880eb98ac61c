"""``python -m teamgate`` with a deliberate leak: every request's body is kept forever.

Only for the test of the memory check itself (tests/project/bench/test_memory_gate.py):
the check must fail on a gateway that leaks, or it would pass on anything.
The app is built exactly as ``teamgate serve`` builds it, then wrapped.

    python bench/leaky_serve.py serve --config teamgate.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import teamgate.app

KEPT: list[bytes] = []


class KeepEveryBody:
    """ASGI middleware that appends each request body it sees to :data:`KEPT`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # the serve command reads the app's settings

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def keeping() -> Any:
            message = await receive()
            if message.get("type") == "http.request":
                KEPT.append(bytes(message.get("body", b"")))
            return message

        await self.app(scope, keeping if scope["type"] == "http" else receive, send)


def main() -> int:
    if not hasattr(teamgate.app, "create_app"):
        raise SystemExit("teamgate.app.create_app moved: update bench/leaky_serve.py")
    build = teamgate.app.create_app
    # `teamgate serve` imports create_app from teamgate.app when it runs.
    teamgate.app.create_app = lambda *a, **k: KeepEveryBody(build(*a, **k))  # type: ignore[assignment]
    from teamgate.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
