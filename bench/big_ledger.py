"""How fast are reports over a big ledger? Build one with SQL, then time the reports.

    PYTHONPATH=src .venv/bin/python bench/big_ledger.py --records 10000000

Creates a SQLite ledger in a temporary folder with N usage records spread over
November 2026 (three teams, three models, a few keys, some refusals), opens it
once through the store (which builds the exact 15-minute roll-up), then times
`teamgate report monthly`, `--by key`, `--by user` (5,000 end users), `--by tag:feature`
(attribution: read from the raw rows) and `report weekly` through the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from teamgate.ledger.sqlite.store import SQLiteStore

NOV_1 = 1793491200  # 2026-11-01 00:00 UTC
MONTH_S = 30 * 86400

FILL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1)
INSERT INTO usage (ts, request_id, groq_id, team, environment, purpose, client_key,
    upstream_key, model_requested, model_served, prompt_tokens, completion_tokens,
    cached_tokens, cost_pusd, status, latency_ms, streamed, usage_source, endpoint, refusal,
    end_user, tags)
SELECT :start + (i * :span) / :count + 0.5,
    'req_' || i, 'req_g' || i,
    CASE i % 3 WHEN 0 THEN 'chatbot' WHEN 1 THEN 'analytics' ELSE 'research' END,
    'prod', 'web',
    CASE i % 3 WHEN 0 THEN 'chatbot' WHEN 1 THEN 'analytics' ELSE 'research' END
        || '-prod-k' || (i % 4),
    'groq-key', 'llama-3.1-8b-instant',
    CASE i % 5 WHEN 0 THEN 'llama-3.3-70b-versatile' ELSE 'llama-3.1-8b-instant' END,
    20 + i % 50, 10 + i % 30, 0,
    (20 + i % 50) * 50000 + (10 + i % 30) * 80000,
    CASE WHEN i % 97 = 0 THEN 429 ELSE 200 END,
    150.0, i % 2, 'reported', 'chat.completions',
    CASE WHEN i % 97 = 0 THEN 'rate_limit' ELSE '' END,
    CASE WHEN i % 10 = 0 THEN '' ELSE 'user-' || (i % 5000) END,
    CASE i % 4 WHEN 0 THEN '' ELSE 'feature=f' || (i % 4) || ',tenant=t' || (i % 7) END
FROM n
"""


def build(db: Path, count: int) -> None:
    async def create() -> None:
        store = SQLiteStore(str(db))
        await store.open()
        await store.close()

    asyncio.run(create())
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(FILL, {"count": count, "start": NOV_1, "span": MONTH_S})
        # Rows written behind the store's back: make its next open build the roll-up,
        # as it does for a ledger written by an older teamgate.
        conn.execute("DELETE FROM usage_rollup")
        conn.execute("DELETE FROM meta WHERE key = 'rollup_version'")
    conn.close()


def sum_directly(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT team, SUM(cost_pusd) FROM usage GROUP BY team").fetchall()
    conn.close()
    return {team: int(cost) for team, cost in rows}


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "teamgate", *argv], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="teamgate-big-") as tmp:
        db = Path(tmp) / "ledger.db"
        started = time.perf_counter()
        build(db, args.records)
        print(f"{args.records:,} records written in {time.perf_counter() - started:.1f} s")
        config = Path(tmp) / "teamgate.yaml"
        example = Path(__file__).resolve().parents[1] / "src/teamgate/teamgate.example.yaml"
        data = yaml.safe_load(example.read_text())
        data["storage"]["url"] = f"sqlite:///{db}"
        config.write_text(yaml.safe_dump(data))
        cfg = ["--config", str(config)]
        expected = sum_directly(db)
        month = ["--month", "2026-11"]
        steps = [
            ("first open (builds the roll-up)", ["usage", *cfg]),
            ("usage (month to date)", ["usage", *cfg]),
            ("report monthly", ["report", "monthly", *month, *cfg]),
            ("report monthly --by key", ["report", "monthly", *month, "--by", "key", *cfg]),
            ("report monthly --by user", ["report", "monthly", *month, "--by", "user", *cfg]),
            (
                "report monthly --by tag:feature",
                ["report", "monthly", *month, "--by", "tag:feature", *cfg],
            ),
            ("report weekly --week 2026-W47", ["report", "weekly", "--week", "2026-W47", *cfg]),
        ]
        for label, argv in steps:
            print(f"{label + ':':<34}{timed(argv):.2f} s")
        report = subprocess.run(
            [
                sys.executable,
                "-m",
                "teamgate",
                "report",
                "monthly",
                "--month",
                "2026-11",
                "--format",
                "json",
                *cfg,
            ],
            check=True,
            capture_output=True,
        )
        got = {t["team"]: int(t["cost_pusd"]) for t in json.loads(report.stdout)["teams"]}
        assert got == expected, (got, expected)
        print("report monthly cost per team equals SUM(cost_pusd) over the raw rows: OK")
        by_user = subprocess.run(
            [
                sys.executable,
                *["-m", "teamgate", "report", "monthly", "--by", "user", "--format", "json"],
                *month,
                *cfg,
            ],
            check=True,
            capture_output=True,
        )
        per_team: dict[str, int] = {}
        for line in json.loads(by_user.stdout)["breakdown"]:
            per_team[line["team"]] = per_team.get(line["team"], 0) + int(line["cost_pusd"])
        assert per_team == expected, (per_team, expected)
        print("report monthly --by user sums to SUM(cost_pusd) per team: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
