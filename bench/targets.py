"""Starting the gateways under test: the bare proxy, teamgate, and LiteLLM.

Each ``start_*`` returns a :class:`procs.Service` once the server listens; the
caller stops it. teamgate runs exactly as an operator runs it
(``python -m teamgate serve --config <yaml>``) with everything on: key lookup,
model policy, team and org rate limits (set far above what the run can reach),
team and org budget reservations, and the SQLite ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from procs import Service, free_port, raise_nofile, wait_for_port
from upstream import MODEL, UPSTREAM_KEY

BENCH_DIR = Path(__file__).resolve().parent
LITELLM_VERSION = "1.106.12"
LITELLM_MASTER_KEY = "sk-bench-master-key"


def _log(workdir: Path, name: str) -> tuple[Path, object]:
    path = workdir / f"{name}.log"
    return path, open(path, "wb")


def start_bare(workdir: Path, upstream: str, *, max_connections: int = 256) -> Service:
    """``max_connections``: the upstream pool (the streaming rows hold thousands open)."""
    port = free_port()
    log, handle = _log(workdir, "bare")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH_DIR / "bare_proxy.py"),
            "--port",
            str(port),
            "--upstream",
            upstream,
            "--key",
            UPSTREAM_KEY,
            "--max-connections",
            str(max_connections),
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        preexec_fn=raise_nofile,
    )
    wait_for_port(port, proc, log)
    return Service("bare proxy", proc, f"http://127.0.0.1:{port}")


def teamgate_config(
    workdir: Path,
    upstream: str,
    port: int,
    *,
    storage_url: str | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "bench:",
    max_connections: int = 256,
) -> str:
    """The YAML: one team with every control on, limits far out of reach.

    ``storage_url``: the ledger (SQLite in ``workdir`` by default); ``redis_url``:
    shared counters and budgets (none by default); ``max_connections``: the
    upstream pool.
    """
    limits = {"rpm": 10**9, "tpm": 10**13, "rpd": 10**11, "tpd": 10**15, "concurrency": 100000}
    storage = storage_url or f"sqlite:///{workdir}/ledger.db"
    config: dict[str, object] = {
        "server": {"host": "127.0.0.1", "port": port, "grace_period_s": 2},
        "upstream": {"base_url": upstream, "max_connections": max_connections},
        "storage": {"url": storage, "flush_interval_ms": 100},
        "org": {
            "monthly_budget_usd": 100000000,
            "limits": {"rpm": 10**9, "tpm": 10**13},
        },
        "teams": {
            "bench": {
                "allowed_models": [MODEL],
                "max_tokens_per_request": 1024,
                "monthly_budget_usd": 10000000,
                "limits": limits,
                "on_limit": "reject",
                "environments": {
                    "prod": {
                        "upstream_keys": [{"name": "bench-prod-1", "secret": "env:BENCH_GROQ_KEY"}]
                    }
                },
            }
        },
    }
    if redis_url:
        config["redis"] = {"url": redis_url, "key_prefix": redis_prefix}
    return json.dumps(config, indent=2)  # JSON is YAML


def start_teamgate(
    workdir: Path,
    upstream: str,
    *,
    storage_url: str | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "bench:",
    launcher: list[str] | None = None,
    max_connections: int = 256,
) -> Service:
    """``launcher``: the command that stands for ``python -m teamgate`` when serving
    (the memory check's deliberate leak wraps the app that way)."""
    port = free_port()
    conf = workdir / "teamgate.yaml"
    conf.write_text(
        teamgate_config(
            workdir,
            upstream,
            port,
            storage_url=storage_url,
            redis_url=redis_url,
            redis_prefix=redis_prefix,
            max_connections=max_connections,
        )
    )
    env = {**os.environ, "BENCH_GROQ_KEY": UPSTREAM_KEY}
    env.pop("GROQ_API_KEY", None)
    if storage_url and not storage_url.startswith("sqlite"):
        subprocess.run(
            [sys.executable, "-m", "teamgate", "migrate", "--config", str(conf)],
            env=env,
            check=True,
            capture_output=True,
        )
    create = ["keys", "create", "--config", str(conf), "--team", "bench", "--env", "prod"]
    created = subprocess.run(
        [sys.executable, "-m", "teamgate", *create, "--purpose", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    secret = json.loads(created.stdout)["key"]
    log, handle = _log(workdir, "teamgate")
    command = launcher or [sys.executable, "-m", "teamgate"]
    proc = subprocess.Popen(
        [*command, "serve", "--config", str(conf)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        preexec_fn=raise_nofile,
    )
    wait_for_port(port, proc, log)
    service = Service("teamgate", proc, f"http://127.0.0.1:{port}")
    service.extra["auth"] = f"Bearer {secret}"
    return service


def litellm_python(reinstall: bool = False) -> Path | None:
    """The LiteLLM virtualenv's python, creating it when missing; None if that fails."""
    venv = BENCH_DIR / ".litellm-venv"
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import litellm.proxy.proxy_server"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"bench: installing litellm[proxy]=={LITELLM_VERSION} into {venv} ...", flush=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"bench: LiteLLM install failed, skipping its row:\n{done.stderr[-1500:]}")
            return None
    if subprocess.run(check, capture_output=True).returncode != 0:
        print("bench: LiteLLM installed but its proxy does not import; skipping its row")
        return None
    return python


def litellm_config(upstream: str, stream_upstream: str) -> str:
    """LiteLLM's fastest setup: one model entry, master key only, no database."""
    entries = [
        {
            "model_name": MODEL,
            "litellm_params": {
                "model": f"openai/{MODEL}",
                "api_base": f"{upstream}/openai/v1",
                "api_key": UPSTREAM_KEY,
            },
        },
        {
            "model_name": f"{MODEL}-stream",
            "litellm_params": {
                "model": f"openai/{MODEL}",
                "api_base": f"{stream_upstream}/openai/v1",
                "api_key": UPSTREAM_KEY,
            },
        },
    ]
    config = {
        "model_list": entries,
        "general_settings": {"master_key": LITELLM_MASTER_KEY},
        # disable_hf_tokenizer_download: this machine is offline, and LiteLLM would
        # otherwise block retrying a tokenizer download to count streamed tokens.
        "litellm_settings": {
            "telemetry": False,
            "drop_params": True,
            "disable_hf_tokenizer_download": True,
        },
    }
    return json.dumps(config, indent=2)


def start_litellm(workdir: Path, python: Path, upstream: str, stream_upstream: str) -> Service:
    port = free_port()
    conf = workdir / "litellm.yaml"
    conf.write_text(litellm_config(upstream, stream_upstream))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")} | {
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "DISABLE_SCHEMA_UPDATE": "True",
    }
    log, handle = _log(workdir, "litellm")
    litellm = python.parent / "litellm"
    proc = subprocess.Popen(
        [str(litellm), "--config", str(conf), "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        preexec_fn=raise_nofile,
    )
    wait_for_port(port, proc, log, timeout_s=180)
    service = Service("LiteLLM", proc, f"http://127.0.0.1:{port}")
    service.extra["auth"] = f"Bearer {LITELLM_MASTER_KEY}"
    service.extra["stream_model"] = f"{MODEL}-stream"
    service.extra["path"] = "/v1/chat/completions"  # its /openai/ routes are a pass-through
    return service
