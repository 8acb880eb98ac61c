"""Simulated Groq Files and Batch APIs, in Groq's shapes.

Files and batches are kept per upstream key (a stand-in for Groq's Projects).
A batch stays ``in_progress`` until :meth:`BatchWorld.complete` is called (the
test hook), unless ``auto_complete`` is set, in which case it completes at
once. Completing runs every input line as a simulated chat completion and
writes the output file (one JSON line per request, ``response.body.usage``).

>>> world = BatchWorld(completion_tokens=4)
>>> f = world.add_file("gsk_k", "in.jsonl", "batch", b'{"custom_id":"a","method":"POST",'
...     b'"url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user",'
...     b'"content":"hi"}]}}\\n')
>>> b = world.create_batch("gsk_k", f["id"], "/v1/chat/completions", "24h")
>>> world.complete()
1
>>> world.batch("gsk_k", b["id"])["request_counts"]
{'total': 1, 'completed': 1, 'failed': 0}
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import orjson

from teamgate.simulator.completions import Completion, count_prompt_tokens, new_request_id

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def _id(prefix: str) -> str:
    return f"{prefix}_01{uuid.uuid4().hex[:24]}"


class BatchWorld:
    """Files and batches of the simulated Groq (thread-safe: tests call ``complete``)."""

    def __init__(self, *, completion_tokens: int = 16, auto_complete: bool = False) -> None:
        self._lock = threading.Lock()
        self.completion_tokens = completion_tokens
        self.auto_complete = auto_complete
        self._files: dict[str, tuple[str, dict[str, Any], bytes]] = {}  # id -> (key, obj, data)
        self._batches: dict[str, tuple[str, dict[str, Any]]] = {}

    # -- files ------------------------------------------------------------------
    def add_file(self, key: str, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        file_id = _id("file")
        obj: dict[str, Any] = {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
        }
        with self._lock:
            self._files[file_id] = (key, obj, data)
        return dict(obj)

    def file(self, key: str, file_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._files.get(file_id)
        return dict(found[1]) if found and found[0] == key else None

    def content(self, key: str, file_id: str) -> bytes | None:
        with self._lock:
            found = self._files.get(file_id)
        return found[2] if found and found[0] == key else None

    def files(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(obj) for k, obj, _ in self._files.values() if k == key]

    def delete_file(self, key: str, file_id: str) -> bool:
        with self._lock:
            found = self._files.get(file_id)
            if found is None or found[0] != key:
                return False
            del self._files[file_id]
            return True

    # -- batches ------------------------------------------------------------------
    def create_batch(
        self, key: str, input_file_id: str, endpoint: str, window: str
    ) -> dict[str, Any] | str:
        """The new batch, or a problem text."""
        data = self.content(key, input_file_id)
        if data is None:
            return f"input file `{input_file_id}` not found"
        lines = [line for line in data.splitlines() if line.strip()]
        now = int(time.time())
        batch: dict[str, Any] = {
            "id": _id("batch"),
            "object": "batch",
            "endpoint": endpoint,
            "errors": None,
            "input_file_id": input_file_id,
            "completion_window": window,
            "status": "in_progress",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": now,
            "in_progress_at": now,
            "expires_at": now + 86400,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": None,
        }
        with self._lock:
            self._batches[batch["id"]] = (key, batch)
        if self.auto_complete:
            self.complete(batch["id"])
        return dict(batch)

    def batch(self, key: str, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._batches.get(batch_id)
            return dict(found[1]) if found and found[0] == key else None

    def batches(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(b) for k, b in self._batches.values() if k == key]

    def cancel(self, key: str, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._batches.get(batch_id)
            if found is None or found[0] != key:
                return None
            batch = found[1]
            if batch["status"] not in TERMINAL:
                now = int(time.time())
                batch.update(status="cancelled", cancelling_at=now, cancelled_at=now)
            return dict(batch)

    def complete(self, batch_id: str | None = None) -> int:
        """Finish ``batch_id`` (None: every batch in progress); how many completed."""
        with self._lock:
            todo = [
                (bid, key, b)
                for bid, (key, b) in self._batches.items()
                if b["status"] == "in_progress" and batch_id in (None, bid)
            ]
        for _, key, batch in todo:
            data = self.content(key, batch["input_file_id"]) or b""
            out_lines, done, failed = self._run_lines(data)
            output = self.add_file(key, "batch_output.jsonl", "batch_output", out_lines)
            now = int(time.time())
            with self._lock:
                batch.update(
                    status="completed",
                    output_file_id=output["id"],
                    finalizing_at=now,
                    completed_at=now,
                    request_counts={"total": done + failed, "completed": done, "failed": failed},
                )
        return len(todo)

    def _run_lines(self, data: bytes) -> tuple[bytes, int, int]:
        out: list[bytes] = []
        done = failed = 0
        for line in data.splitlines():
            if not line.strip():
                continue
            request = orjson.loads(line)
            body = request.get("body") or {}
            cap = body.get("max_completion_tokens", body.get("max_tokens"))
            completion = Completion.plan(
                model=str(body.get("model")),
                prompt_tokens=count_prompt_tokens(body.get("messages")),
                cap=cap if isinstance(cap, int) else None,
                wanted=self.completion_tokens,
                request_id=new_request_id(),
                completion_id=f"chatcmpl-{uuid.uuid4()}",
                fingerprint="fp_batch",
            )
            response = {
                "status_code": 200,
                "request_id": completion.request_id,
                "body": orjson.loads(completion.body()),
            }
            out.append(
                orjson.dumps(
                    {
                        "id": _id("batch_req"),
                        "custom_id": request.get("custom_id"),
                        "response": response,
                        "error": None,
                    }
                )
            )
            done += 1
        return b"\n".join(out) + b"\n", done, failed
