"""The bytes Groq receives are the bytes policy checked, for every JSON endpoint and batch lines.

Each body below repeats (or spells with a ``\\u`` escape) the keys policy
reads, with an unchecked value first and the checked one last. Whatever
teamgate forwards must read the same under a parser that keeps the FIRST of
repeated keys and one that keeps the LAST: either way Groq sees only what was
checked.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from teamgate.simulator import Simulator
from tests.conftest import RunningGateway, start_gateway
from tests.support.sdk_clients import openai_client

ALLOWED = "llama-3.1-8b-instant"
FORBIDDEN = "llama-3.3-70b-versatile"  # not in analytics' allowlist
EMBED = "nomic-embed-text-v1_5"
MSG = '[{"role":"user","content":"hi"}]'
HUGE = '[{"role":"user","content":"' + "x" * 5000 + '"}]'


def first_wins(raw: bytes) -> Any:
    return json.loads(raw, object_pairs_hook=lambda pairs: dict(reversed(pairs)))


def last_wins(raw: bytes) -> Any:
    return json.loads(raw)


@pytest.fixture
def gw(simulator: Simulator, tmp_path: Path) -> Iterator[RunningGateway]:
    simulator._models = simulator._models | {EMBED}
    patch = {
        "pricing": {EMBED: {"input": "0.02", "output": "0"}},
        "teams": {"analytics": {"allowed_models": [ALLOWED, EMBED]}},
    }
    yield from start_gateway(simulator, tmp_path, patch)


def post(gw: RunningGateway, path: str, raw: str) -> httpx.Response:
    headers = {"authorization": f"Bearer {gw.key('analytics')}", "content-type": "application/json"}
    return httpx.post(gw.url + "/openai/v1/" + path, content=raw.encode(), headers=headers)


def received(gw: RunningGateway, path: str) -> bytes:
    [sent] = [r for r in gw.simulator.state.requests() if r.path == "/openai/v1/" + path]
    assert sent.raw is not None
    return sent.raw


# (path, body with the unchecked value first, the values Groq must read)
CASES = [
    (
        "chat/completions",
        f'{{"model":"{FORBIDDEN}","max_tokens":100000,"messages":{HUGE},'
        f'"model":"{ALLOWED}","max_tokens":10,"messages":{MSG}}}',
        {"model": ALLOWED, "max_tokens": 10, "messages": orjson.loads(MSG)},
    ),
    (
        "chat/completions",
        f'{{"\\u006dodel":"{FORBIDDEN}","model":"{ALLOWED}","messages":{MSG},'
        f'"n":3,"n":1,"stream":true,"stream":false}}',
        {"model": ALLOWED, "n": 1, "stream": False},
    ),
    (
        "responses",
        f'{{"model":"{FORBIDDEN}","max_output_tokens":100000,"input":"{"x" * 5000}",'
        f'"model":"{ALLOWED}","max_output_tokens":10,"input":"hi"}}',
        {"model": ALLOWED, "max_output_tokens": 10, "input": "hi"},
    ),
    (
        "responses",
        f'{{"\\u006dodel":"{FORBIDDEN}","model":"{ALLOWED}","input":"hi",'
        '"tools":[{"type":"function","name":"big","parameters":{}}],"tools":[]}',
        {"model": ALLOWED, "tools": []},
    ),
    (
        "embeddings",
        f'{{"model":"{FORBIDDEN}","input":["{"x" * 5000}"],"model":"{EMBED}","input":["hi"]}}',
        {"model": EMBED, "input": ["hi"]},
    ),
]


@pytest.mark.parametrize(("path", "raw", "checked"), CASES)
def test_groq_reads_the_checked_values_under_either_parser(
    gw: RunningGateway, path: str, raw: str, checked: dict[str, Any]
) -> None:
    resp = post(gw, path, raw)
    assert resp.status_code == 200, resp.text
    sent = received(gw, path)
    for parse in (first_wins, last_wins):
        body = parse(sent)
        assert {k: body.get(k) for k in checked} == checked, (parse.__name__, sent[:300])


def upload(client: openai.OpenAI, data: bytes) -> Any:
    return client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")


def test_batch_lines_and_creation_forward_the_checked_values(gw: RunningGateway) -> None:
    client = openai_client(gw, gw.key("analytics"))
    line = (
        f'{{"custom_id":"a","method":"POST","url":"/v1/embeddings","url":"/v1/chat/completions",'
        f'"body":{{"model":"{FORBIDDEN}","max_tokens":100000,"messages":{HUGE},'
        f'"model":"{ALLOWED}","max_tokens":10,"messages":{MSG}}}}}\n'
    )
    uploaded = upload(client, line.encode())
    [upstream] = gw.simulator.state.keys()
    content = gw.simulator.batch_world.content(upstream, uploaded.id)
    assert content is not None
    for parse in (first_wins, last_wins):
        [sent] = [parse(x) for x in content.splitlines()]
        assert sent["url"] == "/v1/chat/completions"
        assert (sent["body"]["model"], sent["body"]["max_tokens"]) == (ALLOWED, 10)
        assert sent["body"]["messages"] == orjson.loads(MSG)
    other = upload(
        client,
        b'{"custom_id":"b","url":"/v1/chat/completions","body":'
        + f'{{"model":"{ALLOWED}","messages":{MSG}}}}}\n'.encode(),
    )
    raw = (
        f'{{"input_file_id":"{other.id}","endpoint":"/v1/embeddings",'
        f'"input_file_id":"{uploaded.id}","endpoint":"/v1/chat/completions",'
        '"completion_window":"24h"}'
    )
    resp = post(gw, "batches", raw)
    assert resp.status_code == 200, resp.text
    sent_raw = received(gw, "batches")
    for parse in (first_wins, last_wins):
        body = parse(sent_raw)
        assert (body["input_file_id"], body["endpoint"]) == (uploaded.id, "/v1/chat/completions")
