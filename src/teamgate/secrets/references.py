"""Parsing an upstream key's secret reference (never its value).

A reference names where a Groq key lives:

- ``env:NAME``: an environment variable;
- ``file:/path``: a file (Kubernetes and Docker secrets), whitespace trimmed;
- ``aws-sm:SECRET_ID[#json-field][@version-stage]``: AWS Secrets Manager;
- ``gcp-sm:projects/P/secrets/S[/versions/V]``: GCP Secret Manager (``latest`` by default).

>>> ref = parse_reference("aws-sm:teamgate/groq#chatbot_prod@AWSPREVIOUS")
>>> ref.target, ref.json_field, ref.stage
('teamgate/groq', 'chatbot_prod', 'AWSPREVIOUS')
>>> parse_reference("gcp-sm:projects/p1/secrets/groq").target
'projects/p1/secrets/groq/versions/latest'
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMES = ("env", "file", "aws-sm", "gcp-sm")


class SecretUnavailable(Exception):
    """A secret reference could not be read. The message names the reference only."""


@dataclass(frozen=True, slots=True)
class SecretReference:
    """A parsed reference. ``json_field`` and ``stage`` are for ``aws-sm`` only."""

    scheme: str
    target: str
    json_field: str | None = None
    stage: str | None = None


def parse_reference(ref: str) -> SecretReference:
    """Split a reference into its parts; :class:`SecretUnavailable` if it is not one.

    An AWS secret id may itself contain ``@``: the part after the last ``@`` is
    taken as the version stage, so write ``@AWSCURRENT`` explicitly for such ids.
    """
    scheme, sep, rest = ref.partition(":")
    if not sep or scheme not in SCHEMES or not rest:
        # Do not repeat the text: a malformed reference may be a pasted key.
        raise SecretUnavailable("a secret reference must be env:, file:, aws-sm: or gcp-sm:")
    if scheme == "aws-sm":
        stage = None
        if "@" in rest:
            rest, _, stage = rest.rpartition("@")
        secret_id, _, json_field = rest.partition("#")
        if not secret_id:
            raise SecretUnavailable(f"{ref}: needs a secret id")
        return SecretReference(scheme, secret_id, json_field or None, stage or None)
    if scheme == "gcp-sm":
        parts = rest.split("/")
        if len(parts) == 4 and parts[0] == "projects" and parts[2] == "secrets":
            rest = f"{rest}/versions/latest"
        elif not (len(parts) == 6 and parts[0] == "projects" and parts[4] == "versions"):
            raise SecretUnavailable(f"{ref}: needs projects/P/secrets/S[/versions/V]")
        return SecretReference(scheme, rest)
    return SecretReference(scheme, rest)
