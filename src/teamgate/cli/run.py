"""``teamgate serve``, ``teamgate simulator`` and ``teamgate demo``."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import math
import os
import sys
from collections.abc import Mapping
from typing import Any

from teamgate.auth.keys import new_client_key
from teamgate.cli.options import add_config, config_path, settings_from, with_store
from teamgate.config.schema import Settings
from teamgate.config.sections import redact_url
from teamgate.ledger.store import Store

log = logging.getLogger("teamgate")


def add_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the gateway")
    add_config(serve)
    serve.add_argument("--host", help="address to bind (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: server.port)")
    serve.add_argument(
        "--simulator",
        action="store_true",
        help="use the built-in Groq simulator as upstream (automatic when no Groq key is set)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (N > 1 needs redis.url: limits and budgets are shared there)",
    )
    serve.add_argument("--ssl-certfile", help="serve HTTPS with this certificate")
    serve.add_argument("--ssl-keyfile", help="the certificate's private key")
    serve.set_defaults(func=cmd_serve)

    sim = sub.add_parser("simulator", help="run the Groq simulator (for tests, demos, benchmarks)")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=9090)
    sim.add_argument("--fast", action="store_true", help="record less, for benchmarks")
    sim.set_defaults(func=cmd_simulator)

    demo = sub.add_parser("demo", help="a scripted tour: three teams, a burst, some refusals")
    demo.add_argument("--requests", type=int, default=30, help="requests per team in the burst")
    demo.set_defaults(func=cmd_demo)


def env_secret_names(settings: Settings) -> list[str]:
    """The environment variables that the config's ``env:`` references name."""
    names = []
    for team in settings.teams.values():
        for environment in team.environments.values():
            for key in environment.upstream_keys:
                if key.secret.startswith("env:"):
                    names.append(key.secret[4:])
    return names


def upstream_env(
    settings: Settings, env: Mapping[str, str], simulate: bool
) -> tuple[dict[str, str], str]:
    """The environment the gateway resolves secrets from, and the mode it runs in.

    Modes: ``groq`` (every reference resolves), ``groq-fallback`` (unset ``env:``
    references use ``GROQ_API_KEY``), ``simulator`` (no Groq key: simulated keys).
    """
    out = dict(env)
    missing = [n for n in env_secret_names(settings) if not out.get(n)]
    if simulate or (missing and not out.get("GROQ_API_KEY")):
        for name in env_secret_names(settings):
            if simulate or not out.get(name):
                out[name] = f"gsk_simulated_{name.lower()}"
        return out, "simulator"
    if missing:
        for name in missing:
            out[name] = out["GROQ_API_KEY"]
        return out, "groq-fallback"
    return out, "groq"


def dashboard_line(settings: Settings, env: Mapping[str, str], *, tls: bool = False) -> str:
    """Where the dashboard is and what it needs (the admin key), for the start-up banner.

    >>> from teamgate.config.schema import Settings
    >>> print(dashboard_line(Settings(teams={}), {}))
    teamgate: dashboard and admin API off: set TEAMGATE_ADMIN_KEY before `teamgate serve` to turn them on (http://127.0.0.1:8080/dashboard)
    >>> print(dashboard_line(Settings(teams={}), {"TEAMGATE_ADMIN_KEY": "k"}))
    teamgate: dashboard at http://127.0.0.1:8080/dashboard (sign in with the admin key in $TEAMGATE_ADMIN_KEY)
    """  # noqa: E501
    server = settings.server
    host = server.admin_host or server.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - where it listens, not an address to bind
        host = "127.0.0.1"
    url = f"{'https' if tls else 'http'}://{host}:{server.admin_port or server.port}/dashboard"
    variable = settings.admin.key_env
    if not env.get(variable):
        return (
            f"teamgate: dashboard and admin API off: set {variable} before `teamgate serve` "
            f"to turn them on ({url})"
        )
    return f"teamgate: dashboard at {url} (sign in with the admin key in ${variable})"


def _banner(lines: list[str]) -> None:
    width = max(len(line) for line in lines) + 4
    print("=" * width, file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    print("=" * width, file=sys.stderr, flush=True)


def _quickstart_keys(settings: Settings) -> list[tuple[str, str]]:
    """In simulator mode with an empty key store: one key per team, shown once."""

    async def make(store: Store) -> list[tuple[str, str]]:
        if await store.list_client_keys(include_revoked=True):
            return []
        made = []
        for team in settings.teams.values():
            env_name = next(iter(team.environments))
            record, secret = new_client_key(team.name, env_name, "quickstart")
            await store.add_client_key(record)
            made.append((record.name, secret))
        return made

    return with_store(settings, make, create=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from teamgate.admin.key_strength import admin_key_error
    from teamgate.app import create_app
    from teamgate.cli.server import GracefulServer
    from teamgate.http.serving import ServerThread
    from teamgate.observability.log_format import configure_logging, uvicorn_log_config
    from teamgate.observability.serving import wrap_for_serving
    from teamgate.simulator import create_simulator

    settings = settings_from(args)
    admin_key = os.environ.get(settings.admin.key_env)
    weak = admin_key_error(settings.admin.key_env, admin_key) if admin_key else None
    if weak:  # one line, exit 2: a weak admin key would guard the whole admin API
        print(weak, file=sys.stderr)
        return 2
    configure_logging(settings.logging)
    if args.workers > 1 and not settings.redis.url:
        print(
            f"teamgate serve: --workers {args.workers} needs redis.url in the config: with "
            "several processes, rate limits and budgets must be shared in Redis "
            "(or run one worker)",
            file=sys.stderr,
        )
        return 2
    if args.host or args.port is not None:
        server = dataclasses.replace(
            settings.server,
            host=args.host or settings.server.host,
            port=settings.server.port if args.port is None else args.port,
        )
        settings = dataclasses.replace(settings, server=server)
    env, mode = upstream_env(settings, os.environ, args.simulator)
    simulator = None
    if mode == "simulator":
        simulator = ServerThread(create_simulator().app)
        url = simulator.start()
        settings = dataclasses.replace(
            settings, upstream=dataclasses.replace(settings.upstream, base_url=url)
        )
        lines = [
            "SIMULATOR MODE: no GROQ_API_KEY is set, so upstream is teamgate's built-in",
            f"Groq simulator at {url}. Answers are simulated; nothing reaches Groq.",
            "Set GROQ_API_KEY (or the config's upstream key variables) to use Groq.",
        ]
        if settings.logging.format == "json":  # logs are for machines: no secret in them
            lines.append("Create keys with: teamgate keys create --team T --env E --purpose P")
            log.warning(" ".join(line.strip() for line in lines))
        else:
            made = _quickstart_keys(settings)
            if made:
                lines.append("Keys created for this store (shown once):")
                lines += [f"  {name}: {secret}" for name, secret in made]
            _banner(lines)
    elif mode == "groq-fallback":
        log.warning("upstream key variables unset; using GROQ_API_KEY for them")
    log.info(
        "config %s, storage %s, %d teams, upstream %s",
        config_path(args),
        redact_url(settings.storage.url),
        len(settings.teams),
        settings.upstream.base_url,
    )
    dashboard = dashboard_line(settings, os.environ, tls=bool(args.ssl_certfile))
    log.info("%s", dashboard.removeprefix("teamgate: "))  # a JSON object in json mode
    app = create_app(settings, env=env, config_path=config_path(args))
    config = uvicorn.Config(
        wrap_for_serving(app),
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop" if _has_uvloop() else "asyncio",
        http="httptools",
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # forwarded headers: only server.trusted_proxies (trusted_proxies.py)
        server_header=False,
        date_header=True,
        timeout_graceful_shutdown=math.ceil(settings.server.grace_period_s),
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        log_level=settings.logging.level,
        log_config=uvicorn_log_config(settings.logging),
    )
    # Everything built so far (modules, settings, the app) lives as long as the
    # process: keep the garbage collector from re-scanning it on every full pass.
    gc.freeze()
    try:
        if args.workers > 1:
            _run_workers(args, settings, env)
        elif settings.server.admin_port is not None:
            from teamgate.admin.serve import run_with_admin

            run_with_admin(app, config)  # the admin API on its own address
        else:
            GracefulServer(
                config, on_drain=app.drain, drain_delay_s=settings.server.drain_delay_s
            ).run()
    finally:
        if simulator is not None:
            # The gateway's server has said its shutdown lines; the simulator's server
            # shares uvicorn's loggers and would say them again.
            logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
            simulator.stop()
    return 0


def _run_workers(args: argparse.Namespace, settings: Settings, env: dict[str, str]) -> None:
    """Run ``args.workers`` uvicorn worker processes, each building the app from the env."""
    import uvicorn

    from teamgate.observability.log_format import uvicorn_log_config

    os.environ.update(env)  # resolved (or simulated) upstream secrets, for the workers
    os.environ["TEAMGATE_CONFIG"] = str(config_path(args))
    os.environ["TEAMGATE_UPSTREAM_URL"] = settings.upstream.base_url
    uvicorn.run(
        "teamgate.app:app_from_env",
        factory=True,
        workers=args.workers,
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop" if _has_uvloop() else "asyncio",
        http="httptools",
        lifespan="on",
        access_log=False,
        proxy_headers=False,  # forwarded headers: only server.trusted_proxies (trusted_proxies.py)
        server_header=False,
        timeout_graceful_shutdown=int(settings.server.grace_period_s),
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        log_level=settings.logging.level,
        log_config=uvicorn_log_config(settings.logging),
    )


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return False
    return True


def cmd_simulator(args: argparse.Namespace) -> int:
    from teamgate.simulator.cli import main as simulator_main

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.fast:
        argv.append("--fast")
    return simulator_main(argv)


def cmd_demo(args: argparse.Namespace) -> int:
    from teamgate.cli.demo import run_demo

    return run_demo(requests_per_team=args.requests)
