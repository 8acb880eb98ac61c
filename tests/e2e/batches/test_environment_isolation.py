"""Objects are private to their team AND environment: staging cannot reach prod's.

Each environment is its own Groq Project (``chatbot-prod``, ``chatbot-staging``).
A ``chatbot-staging`` key gets 404 for every file and batch made with a
``chatbot-prod`` key, exactly as for an id that does not exist, cannot create
a batch from prod's file, and never sends a request with prod's upstream key.
"""

from __future__ import annotations

import io
from typing import Any

import openai
import pytest

from tests.conftest import UPSTREAM_SECRETS, RunningGateway
from tests.support.sdk_clients import error_of, openai_client

from .test_batches import jsonl, line


def upload(client: openai.OpenAI, data: bytes) -> Any:
    return client.files.create(file=("in.jsonl", io.BytesIO(data)), purpose="batch")


def test_a_staging_key_gets_404_for_prod_files_and_batches(gateway: RunningGateway) -> None:
    prod = openai_client(gateway, gateway.key("chatbot", "prod"))
    staging = openai_client(gateway, gateway.key("chatbot", "staging"))
    prod_file = upload(prod, jsonl(line("a")))
    batch = prod.batches.create(
        input_file_id=prod_file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    staging_file = upload(staging, jsonl(line("b")))
    prod_sent = gateway.simulator.state.request_count(UPSTREAM_SECRETS["GROQ_KEY_CHATBOT_PROD"])

    calls: list[Any] = [
        lambda: staging.files.retrieve(prod_file.id),
        lambda: staging.files.content(prod_file.id),
        lambda: staging.files.delete(prod_file.id),
        lambda: staging.batches.retrieve(batch.id),
        lambda: staging.batches.cancel(batch.id),
        lambda: staging.batches.create(
            input_file_id=prod_file.id, endpoint="/v1/chat/completions", completion_window="24h"
        ),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert error_of(err.value)["code"] == "not_found"
    assert [f.id for f in staging.files.list().data] == [staging_file.id]
    assert [b.id for b in staging.batches.list().data] == []
    # Nothing went to prod's Groq Project on staging's behalf.
    assert gateway.simulator.state.request_count(UPSTREAM_SECRETS["GROQ_KEY_CHATBOT_PROD"]) == (
        prod_sent
    )
    # Prod still has everything.
    assert prod.files.retrieve(prod_file.id).id == prod_file.id
    assert prod.batches.retrieve(batch.id).id == batch.id
    assert [f.id for f in prod.files.list().data] == [prod_file.id]
