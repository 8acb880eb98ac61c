"""`teamgate usage` shows open reservations when the gateway answers its admin API."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import yaml

from teamgate.simulator import Simulator
from tests.conftest import BASE_CONFIG, merge
from tests.e2e.cli.test_cli import run_cli
from tests.support.admin_gateway import ADMIN_KEY, start_admin_gateway
from tests.support.loadgen import chat_body, send_all


def test_usage_reports_reserved_from_the_running_gateway(
    simulator: Simulator, tmp_path: Path
) -> None:
    for gw in start_admin_gateway(simulator, tmp_path):
        port = int(gw.url.rsplit(":", 1)[1])
        config = tmp_path / "cli.yaml"
        config.write_text(
            yaml.safe_dump(
                merge(
                    BASE_CONFIG,
                    {"server": {"port": port}, "storage": {"url": gw.settings.storage.url}},
                )
            )
        )
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(
                send_all, gw.url, [(gw.key("analytics"), chat_body(), {"x-sim-fault": "hold"})]
            )
            assert simulator.wait_held(1)
            out = run_cli(
                "usage",
                "--config",
                str(config),
                "--json",
                cwd=tmp_path,
                env={"TEAMGATE_ADMIN_KEY": ADMIN_KEY},
            )
            assert out.returncode == 0, out.stderr
            scopes = {s["team"]: s for s in orjson.loads(out.stdout)["scopes"]}
            assert scopes["analytics"]["reserved_pusd"] > 0
            assert scopes["chatbot"]["reserved_pusd"] == 0
            assert scopes[None]["reserved_pusd"] == scopes["analytics"]["reserved_pusd"]
            simulator.release_held()
            assert held.result()[0].status == 200
        table = run_cli("usage", "--config", str(config), cwd=tmp_path)  # no admin key: "-"
        assert "reserved" in table.stdout and table.returncode == 0
        assert "reserved: - means not known: set TEAMGATE_ADMIN_KEY" in table.stdout
