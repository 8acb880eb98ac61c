"""A valid config as a plain dict: the seed organization (three teams), a new one per call."""

from __future__ import annotations

from typing import Any


def seed_config() -> dict[str, Any]:
    return {
        "upstream": {"base_url": "https://api.groq.com", "timeout_s": 60},
        "storage": {"url": "sqlite:///teamgate.db"},
        "admin": {"key_env": "TEAMGATE_ADMIN_KEY"},
        "alerts": {"thresholds": [0.5, 0.8, 0.95], "webhook_url": None},
        "org": {"monthly_budget_usd": 1000, "limits": {}},
        "pricing": {},
        "aliases": {"fast": "llama-3.1-8b-instant"},
        "teams": {
            "chatbot": {
                "allowed_models": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
                "max_tokens_per_request": 2048,
                "monthly_budget_usd": 200,
                "limits": {"rpm": 60, "concurrency": 5},
                "on_limit": "queue",
                "environments": {
                    "prod": {
                        "upstream_keys": [
                            {"name": "chatbot-prod-2026-04", "secret": "env:GROQ_KEY_CHATBOT_PROD"}
                        ]
                    },
                    "staging": {
                        "upstream_keys": [
                            {
                                "name": "chatbot-staging-2026-04",
                                "secret": "env:GROQ_KEY_CHATBOT_STAGING",
                            }
                        ]
                    },
                },
            },
            "analytics": {
                "allowed_models": ["llama-3.1-8b-instant"],
                "max_tokens_per_request": 512,
                "monthly_budget_usd": 50,
                "limits": {"rpm": 30},
                "environments": {
                    "prod": {
                        "upstream_keys": [
                            {
                                "name": "analytics-prod-2026-04",
                                "secret": "env:GROQ_KEY_ANALYTICS_PROD",
                            }
                        ]
                    }
                },
            },
            "research": {
                "allowed_models": [
                    "llama-3.3-70b-versatile",
                    "llama-3.1-8b-instant",
                    "meta-llama/llama-4-scout-17b-16e-instruct",
                ],
                "max_tokens_per_request": 4096,
                "monthly_budget_usd": 500,
                "limits": {"rpm": 120},
                "environments": {
                    "batch": {
                        "project": "batch-processor",
                        "upstream_keys": [
                            {
                                "name": "batch-processor-2026-04",
                                "secret": "env:GROQ_KEY_BATCH_PROCESSOR",
                            }
                        ],
                    }
                },
            },
        },
    }
