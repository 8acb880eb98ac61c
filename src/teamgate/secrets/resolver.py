"""Turning secret references into values: one :class:`SecretResolver` per gateway.

>>> SecretResolver({"K": " gsk_x\\n"}).resolve("env:K")
'gsk_x'
>>> resolve_secret("env:HOME", {"HOME": "gsk_x"})
'gsk_x'
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from teamgate.secrets.aws import AwsSecretReader
from teamgate.secrets.gcp import GcpSecretReader
from teamgate.secrets.references import SecretUnavailable, parse_reference


class SecretResolver:
    """Reads ``env:``, ``file:``, ``aws-sm:`` and ``gcp-sm:`` references.

    Values are trimmed of surrounding whitespace; an empty value is an error.
    Every error is a :class:`SecretUnavailable` whose message names the
    reference and never a value. Cloud readers are made on first use (inject
    ``aws``/``gcp`` readers in tests).

    >>> resolver = SecretResolver({"GROQ_KEY": "gsk_abc"})
    >>> resolver.resolve("env:GROQ_KEY")
    'gsk_abc'
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        aws: AwsSecretReader | None = None,
        gcp: GcpSecretReader | None = None,
    ) -> None:
        self._env = env
        self._aws = aws
        self._gcp = gcp

    def resolve(self, ref: str) -> str:
        """The value of ``ref`` now (blocking for ``file:`` and the cloud sources)."""
        parsed = parse_reference(ref)
        if parsed.scheme == "env":
            value = self._env.get(parsed.target, "")
            if not value.strip():
                raise SecretUnavailable(f"{ref}: environment variable {parsed.target} is not set")
        elif parsed.scheme == "file":
            try:
                value = Path(parsed.target).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise SecretUnavailable(f"{ref}: cannot read the file ({reason})") from None
        elif parsed.scheme == "aws-sm":
            if self._aws is None:
                self._aws = AwsSecretReader()
            value = self._aws.read(parsed, ref)
        else:
            if self._gcp is None:
                self._gcp = GcpSecretReader()
            value = self._gcp.read(parsed, ref)
        value = value.strip()
        if not value:
            raise SecretUnavailable(f"{ref}: the secret is empty")
        return value

    async def resolve_async(self, ref: str) -> str:
        """:meth:`resolve` off the event loop (except ``env:``, which never blocks)."""
        if ref.startswith("env:"):
            return self.resolve(ref)
        return await asyncio.to_thread(self.resolve, ref)


def resolve_secret(ref: str, env: Mapping[str, str]) -> str:
    """One reference, once: ``SecretResolver(env).resolve(ref)``."""
    return SecretResolver(env).resolve(ref)
