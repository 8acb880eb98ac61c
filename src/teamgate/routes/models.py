"""``GET /models`` and ``GET /models/{id}``: only what the team may use.

Answers in Groq's list shape from the gateway's own knowledge, so listing
models costs no upstream call. Aliases appear as models of their own.
"""

from __future__ import annotations

from typing import Any

import orjson

from teamgate.http.errors import ModelNotFound
from teamgate.policy.rules import TeamPolicy

_OWNERS = {"meta-llama": "Meta", "openai": "OpenAI", "qwen": "Alibaba Cloud"}
_CREATED = 1_733_443_200  # a fixed date: the list is stable between calls


def _owner(model: str) -> str:
    prefix = model.split("/", 1)[0] if "/" in model else ""
    if prefix in _OWNERS:
        return _OWNERS[prefix]
    return "Meta" if model.startswith("llama") else "Groq"


def model_entry(model_id: str, real: str, policy: TeamPolicy) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": _CREATED,
        "owned_by": _owner(real),
        "active": True,
        "context_window": 131072,
        "public_apps": None,
        "max_completion_tokens": policy.max_tokens,
    }


def list_models(policy: TeamPolicy) -> bytes:
    data = [model_entry(m, policy.aliases.get(m, m), policy) for m in policy.visible_models()]
    return orjson.dumps({"object": "list", "data": data})


def get_model(policy: TeamPolicy, model_id: str) -> bytes:
    real = policy.aliases.get(model_id, model_id)
    if real not in policy.allowed:
        raise ModelNotFound(
            f"The model `{model_id}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return orjson.dumps(model_entry(model_id, real, policy))
