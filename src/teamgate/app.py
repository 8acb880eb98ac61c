"""``create_app(settings)``: the ASGI app. Routes only; the work is in the handlers.

Paths are served under ``/openai/v1/`` (the groq SDK, and the openai SDK with
``base_url=<root>/openai/v1``) and under ``/v1/`` (``base_url=<root>/v1``).

>>> # app = create_app(load_settings("teamgate.yaml")); uvicorn.run(app)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path

from teamgate.admin import create_admin_app
from teamgate.admin import handles as admin_handles
from teamgate.budget import ReservationAbandoned
from teamgate.config.schema import Settings
from teamgate.endpoints.batch_poller import BatchPoller
from teamgate.endpoints.chat import handle_chat
from teamgate.endpoints.routes import route_beyond_chat, unpaused_key
from teamgate.http.asgi import (
    JSON,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    header,
    send_bytes,
    send_error,
)
from teamgate.http.errors import GatewayError, MethodNotAllowed, NotFound
from teamgate.ledger.records import ClientKey
from teamgate.ledger.store import Store
from teamgate.limits import ClientGone
from teamgate.routes.models import get_model, list_models
from teamgate.routes.readiness import Readiness, gateway_probes
from teamgate.routes.team_usage import handle_team_usage
from teamgate.runtime import Gateway

log = logging.getLogger("teamgate")

_PREFIXES = ("/openai/v1/", "/v1/")


def _unknown(method: str, path: str) -> NotFound:
    return NotFound(
        f"Unknown request URL: {method} {path}. Please check the URL for typos, "
        "or see the docs at https://console.groq.com/docs/"
    )


class TeamgateApp:
    """The gateway as an ASGI callable; its :class:`Gateway` is built in the lifespan."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: Mapping[str, str] | None = None,
        store: Store | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.gateway = Gateway(
            settings,
            env=dict(os.environ) if env is None else env,
            store=store,
            config_path=config_path,
        )
        # The admin API, dashboard and /metrics: mounted here unless on their own listener.
        self.admin = create_admin_app(self.gateway) if settings.server.admin_port is None else None
        self.batch_poller: BatchPoller | None = None  # started with the gateway
        # /readyz: "starting" until the gateway is open, then its probes decide.
        self.readiness = Readiness([], repeat_s=settings.logging.fault_repeat_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":  # through the one authentication gate (auth_gate.py)
            await self.gateway.auth_gate.serve(scope, receive, send, self._http)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.gateway.open()
                    self.batch_poller = BatchPoller(self.gateway)
                    await self.batch_poller.start()
                    await self._start_readiness()
                except Exception as exc:
                    log.exception("gateway failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self._watch_sighup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.readiness.close()
                if self.batch_poller is not None:
                    await self.batch_poller.close()
                await self.gateway.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start_readiness(self) -> None:
        gw = self.gateway
        assert gw.store is not None
        redis = gw.shared.client if gw.shared is not None else None
        probes = gateway_probes(gw.store, redis)
        draining = self.readiness.draining
        self.readiness = Readiness(probes, repeat_s=self.settings.logging.fault_repeat_s)
        await self.readiness.start()
        if draining:
            self.readiness.drain()

    def drain(self) -> None:
        """A stop signal arrived: ``/readyz`` answers 503 ``draining`` from now on."""
        self.readiness.drain()

    def _watch_sighup(self) -> None:
        """SIGHUP reloads the config, where this process may install signal handlers."""
        if (
            self.gateway.config_path is None
            or threading.current_thread() is not threading.main_thread()
        ):
            return
        loop = asyncio.get_running_loop()

        def reload() -> None:
            task = loop.create_task(self.gateway.reload())
            task.add_done_callback(_log_reload_failure)

        loop.add_signal_handler(signal.SIGHUP, reload)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        try:
            for prefix in _PREFIXES:
                if path.startswith(prefix):
                    await self._groq_route(path[len(prefix) :], method, scope, receive, send)
                    return
            if path in ("/health", "/healthz"):
                await send_bytes(send, 200, b'{"status":"ok"}', [JSON])
                return
            if path == "/readyz":
                status, body = self.readiness.answer()
                await send_bytes(send, status, body, [JSON])
                return
            if path == "/teamgate/v1/usage":
                if method != "GET":
                    raise MethodNotAllowed(f"Method {method} is not allowed for {path}.")
                await handle_team_usage(self.gateway, scope, send)
                return
            if self.admin is not None and admin_handles(path):
                await self.admin.dispatch(scope, receive, send)
                return
            raise _unknown(method, path)
        except GatewayError as exc:
            await send_error(send, exc)
        except (ClientDisconnected, ClientGone, ReservationAbandoned):  # nobody to answer
            return
        except Exception:
            await self._crashed(method, path, send)

    async def _crashed(self, method: str, path: str, send: Send) -> None:
        """A bug: log it, and answer a Groq-shaped 500 (never a traceback) if nothing was sent."""
        log.exception("unhandled error on %s %s", method, path[:200])
        error = GatewayError("The gateway failed on this request; the operator can find it logged.")
        with contextlib.suppress(Exception):  # the response may have started already
            await send_error(send, error)

    async def _authenticate(self, scope: Scope) -> ClientKey:
        """The client key, or 401 (slowed by the gate when an address keeps failing)."""
        return self.gateway.keys.authenticate(header(scope, b"authorization"))

    async def _groq_route(
        self, route: str, method: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        gw = self.gateway
        if route == "chat/completions":
            if method != "POST":
                raise MethodNotAllowed(f"Method {method} is not allowed for {scope['path']}.")
            key = await self._authenticate(scope)
            await handle_chat(gw, scope, receive, send, key)
            return
        if route == "models" or route.startswith("models/"):
            if method != "GET":
                raise MethodNotAllowed(f"Method {method} is not allowed for {scope['path']}.")
            key = unpaused_key(gw, scope)
            policy = gw.policies[key.team]
            body = list_models(policy) if route == "models" else get_model(policy, route[7:])
            await send_bytes(send, 200, body, [JSON])
            return
        if await route_beyond_chat(gw, route, method, scope, receive, send):
            return
        raise _unknown(method, scope["path"])


def _log_reload_failure(task: asyncio.Task[Settings]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("reload failed, keeping the running configuration: %s", task.exception())


def create_app(
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    store: Store | None = None,
    config_path: Path | None = None,
) -> TeamgateApp:
    """Build the gateway app. Nothing is opened until the ASGI lifespan starts it."""
    return TeamgateApp(settings, env=env, store=store, config_path=config_path)


def app_from_env() -> object:
    """The app for ``teamgate serve --workers N`` (uvicorn imports it in every worker).

    Reads the config from ``$TEAMGATE_CONFIG``; ``$TEAMGATE_UPSTREAM_URL``, when set,
    replaces ``upstream.base_url`` (the simulator the parent process started).
    """
    import dataclasses
    import os
    from pathlib import Path

    from teamgate.config.loader import load_settings

    settings = load_settings(Path(os.environ["TEAMGATE_CONFIG"]), os.environ)
    upstream = os.environ.get("TEAMGATE_UPSTREAM_URL")
    if upstream:
        settings = dataclasses.replace(
            settings, upstream=dataclasses.replace(settings.upstream, base_url=upstream)
        )
    from teamgate.observability.log_format import configure_logging
    from teamgate.observability.serving import wrap_for_serving

    configure_logging(settings.logging)
    app = create_app(settings, config_path=Path(os.environ["TEAMGATE_CONFIG"]))
    return wrap_for_serving(app)
