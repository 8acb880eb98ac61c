"""AWS Secrets Manager, through boto3 (the ``aws`` extra).

``aws-sm:SECRET_ID`` reads the secret's string; ``#field`` picks one member of a
JSON secret; ``@STAGE`` asks for a version stage (``AWSCURRENT`` by default).
Credentials and region come from boto3's usual chain (environment, profile,
instance role). Errors name the reference and the AWS error code, never a value.

>>> # reader = AwsSecretReader(); reader.read(parse_reference("aws-sm:teamgate/groq#prod"))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import orjson

from teamgate.secrets.lazy_client import LazyClient
from teamgate.secrets.references import SecretReference, SecretUnavailable


def _default_client() -> Any:
    try:
        boto3 = importlib.import_module("boto3")
    except ImportError:
        raise SecretUnavailable(
            "aws-sm: needs the AWS extra: pip install 'teamgate[aws]'"
        ) from None
    return boto3.client("secretsmanager")


def pick_json_field(text: str, field: str, ref: str) -> str:
    """The string member ``field`` of a JSON object secret.

    >>> pick_json_field('{"prod": "gsk_a"}', "prod", "aws-sm:x#prod")
    'gsk_a'
    """
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise SecretUnavailable(f"{ref}: the secret is not a JSON object") from None
    if not isinstance(data, dict):
        raise SecretUnavailable(f"{ref}: the secret is not a JSON object")
    value = data.get(field)
    if not isinstance(value, str):
        raise SecretUnavailable(f"{ref}: the JSON secret has no string field `{field}`")
    return value


class AwsSecretReader:
    """Reads ``aws-sm:`` references; one boto3 client, made on first use.

    ``client_factory`` returns a Secrets Manager client (tests pass one bound to
    moto or a fake).
    """

    def __init__(self, client_factory: Callable[[], Any] | None = None) -> None:
        self._client = LazyClient(client_factory or _default_client)

    def read(self, ref: SecretReference, text: str) -> str:
        """The secret's value; ``text`` is the reference as written, for messages."""
        kwargs: dict[str, str] = {"SecretId": ref.target}
        if ref.stage:
            kwargs["VersionStage"] = ref.stage
        try:
            answer = self._client.get().get_secret_value(**kwargs)
        except SecretUnavailable:
            raise
        except Exception as exc:  # botocore errors; never include the response text
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            raise SecretUnavailable(
                f"{text}: AWS Secrets Manager: {code or type(exc).__name__}"
            ) from None
        value = answer.get("SecretString")
        if value is None and answer.get("SecretBinary") is not None:
            try:
                value = bytes(answer["SecretBinary"]).decode("utf-8")
            except UnicodeDecodeError:
                raise SecretUnavailable(f"{text}: the binary secret is not UTF-8") from None
        if not isinstance(value, str):
            raise SecretUnavailable(f"{text}: the secret has no value")
        if ref.json_field is not None:
            value = pick_json_field(value, ref.json_field, text)
        return value
