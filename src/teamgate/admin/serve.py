"""Run the proxy and, on its own address, the admin app: two uvicorn servers, one event loop.

Used by ``teamgate serve`` when ``server.admin_port`` is set. The proxy server
owns the lifespan (it opens and closes the gateway); the admin server runs
with ``lifespan="off"`` and stops when the proxy server does.
"""

from __future__ import annotations

import asyncio

import uvicorn

from teamgate.admin.app import create_admin_app
from teamgate.app import TeamgateApp


def admin_config(app: TeamgateApp, main: uvicorn.Config) -> uvicorn.Config:
    """The admin listener's config, beside the proxy's ``main`` config."""
    server = app.settings.server
    assert server.admin_port is not None
    return uvicorn.Config(
        create_admin_app(app.gateway, own_listener=True),
        host=server.admin_host or server.host,
        port=server.admin_port,
        loop=main.loop,
        http=main.http,
        lifespan="off",
        access_log=False,
        proxy_headers=False,  # forwarded headers: only server.trusted_proxies (trusted_proxies.py)
        server_header=False,
        ssl_certfile=main.ssl_certfile,
        ssl_keyfile=main.ssl_keyfile,
        log_level="info",
    )


async def serve_both(main: uvicorn.Server, admin: uvicorn.Server) -> None:
    """Serve both; when the proxy server stops (signal, failure), stop the admin one."""
    admin_task = asyncio.create_task(admin.serve())
    try:
        await main.serve()
    finally:
        admin.should_exit = True
        await admin_task


def run_with_admin(app: TeamgateApp, main_config: uvicorn.Config) -> None:
    """Blocking: run the proxy and the admin listener until interrupted."""
    main = uvicorn.Server(main_config)
    admin = uvicorn.Server(admin_config(app, main_config))
    from uvicorn._compat import asyncio_run

    asyncio_run(serve_both(main, admin), loop_factory=main_config.get_loop_factory())
