"""Upstream key secrets: references (``env:``, ``file:``, ``aws-sm:``, ``gcp-sm:``),
their resolution, and the fingerprint shown in place of a value.

>>> secret_fingerprint("gsk_test_chatbot_prod_0001")
'gsk_…0001'
"""

from __future__ import annotations

from teamgate.secrets.references import (
    SecretReference,
    SecretUnavailable,
    parse_reference,
)
from teamgate.secrets.resolver import SecretResolver, resolve_secret


def secret_fingerprint(secret: str) -> str:
    """``gsk_…abcd``: how an upstream key is shown anywhere a person can see it."""
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) > 8 else "…"


__all__ = [
    "SecretReference",
    "SecretResolver",
    "SecretUnavailable",
    "parse_reference",
    "resolve_secret",
    "secret_fingerprint",
]
