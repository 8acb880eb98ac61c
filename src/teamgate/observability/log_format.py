"""Log output: ``text`` lines (the default) or ``json``, one object per line.

With ``logging.format: json`` every record (teamgate's, uvicorn's, libraries')
becomes one line that ``json.loads`` reads::

    {"time": "2026-11-30T01:16:00.123Z", "level": "info", "logger": "teamgate.access",
     "message": "POST /openai/v1/chat/completions 200", "request_id": "req_…",
     "team": "chatbot", "status": 200, "latency_ms": 1.92}

``request_id``, ``team``, ``status``, ``latency_ms`` (and ``method``,
``path``, ``component``, ``error_class``, ``outage_s``) appear when the code
that logged passed them as ``extra=``. An exception's traceback, if any, is
one string field, ``exception``.

>>> record = logging.LogRecord("teamgate", logging.WARNING, "", 0, "store %s", ("down",), None)
>>> record.created = 0.0
>>> JsonFormatter().format(record)
'{"time":"1970-01-01T00:00:00.000Z","level":"warning","logger":"teamgate","message":"store down"}'
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

from teamgate.config.schema import LoggingSettings

# Record attributes (from ``extra=``) copied into the JSON object when present.
FIELDS = (
    "request_id",
    "team",
    "status",
    "latency_ms",
    "method",
    "path",
    "component",
    "error_class",
    "outage_s",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        millis = int((record.created - seconds) * 1000)
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(settings: LoggingSettings) -> None:
    """Send every log record to stderr in ``settings.format`` at ``settings.level``.

    In ``json`` mode uvicorn's own loggers lose their handlers and propagate to
    the root, so they are JSON too (run uvicorn with ``log_config=None``).
    """
    handler = logging.StreamHandler(sys.stderr)
    if settings.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(settings.level.upper())
    if settings.format == "json":
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
            logger = logging.getLogger(name)
            logger.handlers = []
            logger.propagate = True


def uvicorn_log_config(settings: LoggingSettings) -> dict[str, Any] | None:
    """uvicorn's ``log_config``: its own text setup, or None (JSON: our root handler)."""
    if settings.format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
