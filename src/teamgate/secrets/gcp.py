"""GCP Secret Manager, through google-cloud-secret-manager (the ``gcp`` extra).

``gcp-sm:projects/P/secrets/S`` reads the latest version; ``/versions/V`` pins
one. Credentials come from Application Default Credentials. Errors name the
reference and the error type, never a value.

>>> # reader = GcpSecretReader(); reader.read(parse_reference("gcp-sm:projects/p/secrets/s"), ...)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from teamgate.secrets.lazy_client import LazyClient
from teamgate.secrets.references import SecretReference, SecretUnavailable


def _default_client() -> Any:
    try:
        module = importlib.import_module("google.cloud.secretmanager")
    except ImportError:
        raise SecretUnavailable(
            "gcp-sm: needs the GCP extra: pip install 'teamgate[gcp]'"
        ) from None
    return module.SecretManagerServiceClient()


class GcpSecretReader:
    """Reads ``gcp-sm:`` references; one client, made on first use.

    ``client_factory`` returns an object with ``access_secret_version(request=...)``
    (tests pass a fake).
    """

    def __init__(self, client_factory: Callable[[], Any] | None = None) -> None:
        self._client = LazyClient(client_factory or _default_client)

    def read(self, ref: SecretReference, text: str) -> str:
        try:
            answer = self._client.get().access_secret_version(request={"name": ref.target})
        except SecretUnavailable:
            raise
        except Exception as exc:  # google.api_core errors; never include the payload
            raise SecretUnavailable(f"{text}: GCP Secret Manager: {type(exc).__name__}") from None
        try:
            return bytes(answer.payload.data).decode("utf-8")
        except (AttributeError, UnicodeDecodeError):
            raise SecretUnavailable(f"{text}: the secret payload is not UTF-8 text") from None
