"""Each secret source resolves, and errors name the reference, never a value."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from typing import Any, ClassVar

import boto3
import orjson
import pytest
from google.cloud import secretmanager
from moto import mock_aws

from teamgate.secrets import SecretResolver, SecretUnavailable, parse_reference
from teamgate.secrets.aws import AwsSecretReader
from teamgate.secrets.gcp import GcpSecretReader

SECRET = "gsk_sources_test_value_7781"


# --- env and file, for real ------------------------------------------------------


def test_env_reference() -> None:
    assert SecretResolver({"GROQ_A": f"  {SECRET}\n"}).resolve("env:GROQ_A") == SECRET


def test_env_reference_missing_names_the_variable() -> None:
    with pytest.raises(SecretUnavailable, match="env:GROQ_A: environment variable GROQ_A"):
        SecretResolver({}).resolve("env:GROQ_A")


def test_file_reference_trims_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "groq_key"
    path.write_text(SECRET + "\n")
    assert SecretResolver({}).resolve(f"file:{path}") == SECRET


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_file_reference_missing_or_empty(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "groq_key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver({}).resolve(f"file:{path}")
    assert str(caught.value).startswith(f"file:{path}: ")


def test_malformed_reference_is_not_repeated() -> None:
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver({}).resolve(SECRET)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("ref", "target", "field", "stage"),
    [
        ("aws-sm:teamgate/groq", "teamgate/groq", None, None),
        ("aws-sm:teamgate/groq#prod", "teamgate/groq", "prod", None),
        ("aws-sm:teamgate/groq@AWSPREVIOUS", "teamgate/groq", None, "AWSPREVIOUS"),
        (
            "aws-sm:arn:aws:secretsmanager:eu-west-1:1:secret:g#k@AWSCURRENT",
            "arn:aws:secretsmanager:eu-west-1:1:secret:g",
            "k",
            "AWSCURRENT",
        ),
    ],
)
def test_aws_reference_parts(ref: str, target: str, field: str | None, stage: str | None) -> None:
    parsed = parse_reference(ref)
    assert (parsed.target, parsed.json_field, parsed.stage) == (target, field, stage)


# --- AWS Secrets Manager through moto ---------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


def test_aws_plain_string(aws: Any) -> None:
    aws.create_secret(Name="teamgate/chatbot-prod", SecretString=SECRET)
    # The default reader builds its own boto3 client (the code path of production).
    assert SecretResolver({}).resolve("aws-sm:teamgate/chatbot-prod") == SECRET


def test_aws_json_field_and_version_stage(aws: Any) -> None:
    aws.create_secret(
        Name="teamgate/groq", SecretString=orjson.dumps({"prod": "gsk_old_1111"}).decode()
    )
    aws.put_secret_value(
        SecretId="teamgate/groq", SecretString=orjson.dumps({"prod": SECRET}).decode()
    )
    resolver = SecretResolver({}, aws=AwsSecretReader(lambda: aws))
    assert resolver.resolve("aws-sm:teamgate/groq#prod") == SECRET
    assert resolver.resolve("aws-sm:teamgate/groq#prod@AWSPREVIOUS") == "gsk_old_1111"
    with pytest.raises(SecretUnavailable, match="no string field `other`"):
        resolver.resolve("aws-sm:teamgate/groq#other")


def test_aws_missing_secret_names_reference_and_code(aws: Any) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver({}).resolve("aws-sm:teamgate/none")
    assert (
        str(caught.value) == "aws-sm:teamgate/none: AWS Secrets Manager: ResourceNotFoundException"
    )


def test_aws_changed_value_is_read_again(aws: Any) -> None:
    aws.create_secret(Name="teamgate/rotating", SecretString="gsk_first_value_0001")
    resolver = SecretResolver({})
    assert resolver.resolve("aws-sm:teamgate/rotating") == "gsk_first_value_0001"
    aws.put_secret_value(SecretId="teamgate/rotating", SecretString=SECRET)
    assert resolver.resolve("aws-sm:teamgate/rotating") == SECRET


# --- GCP Secret Manager through a fake client ---------------------------------------


class FakeSecretManagerServiceClient:
    """Stands in for ``secretmanager.SecretManagerServiceClient`` (no network, no credentials)."""

    values: ClassVar[dict[str, bytes]] = {}

    def access_secret_version(self, request: dict[str, str]) -> Any:
        name = request["name"]
        if name not in self.values:
            from google.api_core.exceptions import NotFound

            raise NotFound(f"Secret [{name}] not found")
        return secretmanager.AccessSecretVersionResponse(
            name=name, payload=secretmanager.SecretPayload(data=self.values[name])
        )


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch) -> type[FakeSecretManagerServiceClient]:
    monkeypatch.setattr(FakeSecretManagerServiceClient, "values", {})
    monkeypatch.setattr(secretmanager, "SecretManagerServiceClient", FakeSecretManagerServiceClient)
    return FakeSecretManagerServiceClient


def test_gcp_latest_and_pinned_version(gcp: type[FakeSecretManagerServiceClient]) -> None:
    gcp.values["projects/p1/secrets/groq/versions/latest"] = f"{SECRET}\n".encode()
    gcp.values["projects/p1/secrets/groq/versions/3"] = b"gsk_pinned_value_3333"
    resolver = SecretResolver({})
    assert resolver.resolve("gcp-sm:projects/p1/secrets/groq") == SECRET
    assert resolver.resolve("gcp-sm:projects/p1/secrets/groq/versions/3") == "gsk_pinned_value_3333"


def test_gcp_error_names_reference_only(gcp: type[FakeSecretManagerServiceClient]) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        SecretResolver({}).resolve("gcp-sm:projects/p1/secrets/none")
    assert str(caught.value) == "gcp-sm:projects/p1/secrets/none: GCP Secret Manager: NotFound"


def test_gcp_reader_with_injected_client(gcp: type[FakeSecretManagerServiceClient]) -> None:
    gcp.values["projects/p/secrets/s/versions/latest"] = SECRET.encode()
    reader = GcpSecretReader(FakeSecretManagerServiceClient)
    assert SecretResolver({}, gcp=reader).resolve("gcp-sm:projects/p/secrets/s") == SECRET


@pytest.mark.parametrize(
    "name",
    [
        "teamgate.secrets",
        "teamgate.secrets.references",
        "teamgate.secrets.resolver",
        "teamgate.secrets.aws",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
