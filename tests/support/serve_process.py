"""``teamgate serve`` as a real subprocess, for signal and TLS tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from teamgate.auth.keys import new_client_key
from teamgate.ledger import open_store
from teamgate.ledger.records import UsageRecord
from tests.conftest import BASE_CONFIG, UPSTREAM_SECRETS, merge
from tests.support.ports import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")
ADMIN_KEY = "tgadmin_test_secret_0123456789abcdef"


class ServeProcess:
    """Writes a config for ``upstream_url``, issues a key, runs ``python -m teamgate serve``.

    >>> # proc = ServeProcess(tmp_path, simulator.url); proc.start(); proc.url; proc.stop()
    """

    def __init__(
        self,
        folder: Path,
        upstream_url: str,
        patch: dict[str, Any] | None = None,
        extra_args: tuple[str, ...] = (),
        scheme: str = "http",
    ) -> None:
        self.folder = folder
        self.db = folder / "ledger.db"
        self.port = free_port()
        self.scheme = scheme
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        data = merge(BASE_CONFIG, patch or {})
        data = merge(
            data,
            {
                "upstream": {"base_url": upstream_url},
                "storage": {"url": f"sqlite:///{self.db}"},
                "server": {"port": self.port},
            },
        )
        self.config = folder / "teamgate.yaml"
        self.config.write_text(yaml.safe_dump(data))
        self.log = folder / "serve.log"
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.key = ""

    def issue_key(self, team: str = "analytics", env: str = "prod") -> str:
        async def go() -> str:
            store = open_store(f"sqlite:///{self.db}")
            await store.open()
            try:
                record, secret = new_client_key(team, env, "load")
                await store.add_client_key(record)
                return secret
            finally:
                await store.close()

        self.key = asyncio.run(go())
        return self.key

    def start(self, timeout_s: float = 15.0) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": SRC,
            **UPSTREAM_SECRETS,
            "TEAMGATE_ADMIN_KEY": ADMIN_KEY,
        }
        env.pop("GROQ_API_KEY", None)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "teamgate", "serve", "--config", str(self.config)),
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.folder,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/health", verify=False, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not start: " + self.log.read_text()
            time.sleep(0.05)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def records(self) -> list[UsageRecord]:
        async def go() -> list[UsageRecord]:
            store = open_store(f"sqlite:///{self.db}")
            await store.open()
            try:
                return await store.usage_records(0, 1e12)
            finally:
                await store.close()

        return asyncio.run(go())
