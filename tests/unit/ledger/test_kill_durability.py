"""A flushed batch survives kill -9 of the process that wrote it (WAL, synchronous=NORMAL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from teamgate.ledger.sqlite.store import SQLiteStore

T0 = 1_700_000_000.0

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from teamgate.ledger.records import UsageRecord
    from teamgate.ledger.sqlite.store import SQLiteStore
    from teamgate.ledger.writer import LedgerWriter

    def record(i):
        return UsageRecord(
            ts=1_700_000_000.0 + i, request_id=f"r{i}", groq_id="", team="chatbot",
            environment="prod", purpose="web", client_key="k", upstream_key="u",
            model_requested="m", model_served="m", prompt_tokens=1, completion_tokens=1,
            cached_tokens=0, cost_pusd=1000 + i, status=200, latency_ms=1.0,
            streamed=False, usage_source="reported",
        )

    async def main():
        store = SQLiteStore(sys.argv[1])
        await store.open()
        writer = LedgerWriter(store, flush_interval_s=3600)
        writer.start()
        for i in range(300):
            writer.append(record(i))
        await writer.flush()
        for i in range(300, 310):
            writer.append(record(i))  # never flushed: the interval is an hour
        print("flushed", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_flushed_records_survive_sigkill(tmp_path: Path) -> None:
    path = str(tmp_path / "teamgate.db")
    src = str(Path(__file__).resolve().parents[3] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert child.stdout is not None
        line = await asyncio.to_thread(child.stdout.readline)
        assert line.strip() == "flushed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    store = SQLiteStore(path)
    await store.open()
    try:
        records = await store.usage_records(0, T0 + 1000)
        assert [r.request_id for r in records] == [f"r{i}" for i in range(300)]
        (total,) = await store.usage_summary(0, T0 + 1000, ("team",))
        assert total.cost_pusd == sum(1000 + i for i in range(300))
    finally:
        await store.close()
