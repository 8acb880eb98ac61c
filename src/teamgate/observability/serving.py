"""What wraps the gateway app when it is served: tracing and the access log, each only if on.

``teamgate serve`` (and each ``--workers`` process) serves
``wrap_for_serving(app)``. With ``tracing.otlp_endpoint`` unset and
``logging.access_log: false`` (the defaults) it returns ``app`` itself: nothing
is added to a request's path.

>>> # uvicorn.Config(wrap_for_serving(create_app(settings)), ...)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from teamgate.observability.access_log import AccessLog, ASGIApp
from teamgate.observability.tracing import TracingMiddleware, start_tracing

if TYPE_CHECKING:
    from teamgate.app import TeamgateApp


def wrap_for_serving(app: TeamgateApp, *, span_exporter: Any = None) -> ASGIApp:
    """``app`` behind the middlewares its settings turn on (innermost: the access log)."""
    settings = app.settings

    def team_of(authorization: bytes | None) -> str | None:
        return app.gateway.keys.team_of(authorization)

    served: ASGIApp = app
    tracing = start_tracing(settings.tracing, exporter=span_exporter)
    app.gateway.tracing = tracing  # the request lifecycle opens its child spans with it
    if settings.logging.access_log:
        served = AccessLog(served, team_of=team_of)
    if tracing.enabled:
        served = TracingMiddleware(served, tracing, team_of=team_of)
    return served
