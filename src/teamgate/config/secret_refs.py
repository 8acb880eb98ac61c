"""Checking an upstream key's ``secret`` reference, never its value.

A reference says where the Groq key lives: ``env:NAME``, ``file:/path``,
``aws-sm:SECRET_ID[#field][@stage]`` or ``gcp-sm:projects/P/secrets/S[/versions/V]``.
Messages never repeat a reference that does not parse (it may be a key pasted
by mistake).

>>> check_secret_reference("env:GROQ_KEY_CHATBOT_PROD")
'env:GROQ_KEY_CHATBOT_PROD'
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from teamgate.config.fields import Invalid, checks

SECRET_SCHEMES = ("env", "file", "aws-sm", "gcp-sm")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GCP_NAME = re.compile(r"^projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?$")
# scheme -> (module it needs, the extra that installs it, the extra's label)
_EXTRAS = {
    "aws-sm": ("boto3", "aws", "AWS"),
    "gcp-sm": ("google.cloud.secretmanager", "gcp", "GCP"),
}


def module_available(name: str) -> bool:
    """Whether ``name`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@checks(
    {
        "type": "string",
        "pattern": r"^(env:[A-Za-z_][A-Za-z0-9_]*|(file|aws-sm):.*\S.*"
        r"|gcp-sm:projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?)$",
    }
)
def check_secret_reference(value: Any) -> str:
    """``value`` if it is a well-formed reference whose client library is installed."""
    if not isinstance(value, str):
        raise Invalid(
            "must be a secret reference (env:NAME, file:/path, aws-sm:ID or "
            f"gcp-sm:projects/P/secrets/S), got a {type(value).__name__}"
        )
    scheme, sep, rest = value.partition(":")
    if not sep or scheme not in SECRET_SCHEMES:
        hint = ""
        if value.startswith("gsk_"):
            hint = (
                "; this looks like a Groq key itself: "
                "put it in an environment variable and write env:NAME"
            )
        raise Invalid(
            f"must start with env:, file:, aws-sm: or gcp-sm: (the value is not shown){hint}"
        )
    if scheme == "env" and not _ENV_NAME.match(rest):
        raise Invalid("env: needs an environment variable name, e.g. env:GROQ_KEY_CHATBOT_PROD")
    if scheme == "file" and not rest.strip():
        raise Invalid("file: needs a path, e.g. file:/run/secrets/groq_key")
    if scheme == "aws-sm" and not rest.strip():
        raise Invalid("aws-sm: needs a secret id, e.g. aws-sm:teamgate/chatbot-prod")
    if scheme == "gcp-sm" and not _GCP_NAME.match(rest):
        raise Invalid("gcp-sm: needs projects/P/secrets/S or projects/P/secrets/S/versions/V")
    if scheme in _EXTRAS:
        module, extra, label = _EXTRAS[scheme]
        if not module_available(module):
            raise Invalid(f"{scheme}: needs the {label} extra: pip install 'teamgate[{extra}]'")
    return value
