"""`teamgate schema`: published; accepts the example and the seed; rejects the bad configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from teamgate.cli import main
from teamgate.cli.schema import render_schema
from teamgate.config.json_schema import settings_schema
from teamgate.config.loader import example_config_path
from teamgate.config.sections import SERVER_FIELDS, TRUSTED_PROXIES
from teamgate.config.validate import TOP_LEVEL_KEYS
from tests.support.config_seed import seed_config
from tests.support.validation_cases import CASES
from tests.support.validation_table import Mutation

PUBLISHED = Path(__file__).resolve().parents[3] / "teamgate.schema.json"

# Cases the loader rejects by relating several values (or by what is installed), which a
# JSON Schema cannot express; `teamgate check` is the full validation. Every other case
# of the table must be rejected by the schema too.
BEYOND_JSON_SCHEMA = {
    "admin port clashes": "compares server.admin_port with server.port",
    "upstream key names unique across teams": "uniqueness across the whole file",
    "aws-sm without boto3": "depends on the installed extras",
    "gcp-sm without the client": "depends on the installed extras",
    "unpriced model": "needs the price table and pricing.default",
    "alias of an unpriced model": "needs the alias's target and the price table",
    "alias of an alias": "relates two aliases",
    "alias shadows a model priced in the config": "relates aliases to pricing keys",
    "model limits outside the allowlist": "relates models to allowed_models",
    "org model limits for a model no team uses": "relates org.models to every team",
    "unknown timezone": "the IANA database is the machine's, not the schema's",
    "environment sub-budget above its team's": "compares two values of one team",
    "oidc role names no team": "relates dashboard.oidc.roles to the teams",
}


def _validator() -> jsonschema.Draft202012Validator:
    schema = settings_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _as_json(data: Any) -> Any:
    """What an editor sees: YAML dates are strings in JSON."""
    return json.loads(json.dumps(data, default=str))


def test_the_published_schema_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == render_schema()
    assert PUBLISHED.read_text() == printed, "run: teamgate schema > teamgate.schema.json"


def test_the_example_points_editors_at_the_schema() -> None:
    first = example_config_path().read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../teamgate.schema.json"
    assert (example_config_path().parent / "../../teamgate.schema.json").resolve() == PUBLISHED


def test_the_schema_follows_the_loaders_tables() -> None:
    schema = settings_schema()
    assert list(schema["properties"]) == list(TOP_LEVEL_KEYS)
    server = schema["properties"]["server"]["properties"]
    tables = {**SERVER_FIELDS, "trusted_proxies": TRUSTED_PROXIES}  # read item by item
    assert server == {key: check.json_schema for key, check in tables.items()}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(yaml.safe_load(example_config_path().read_text()), id="example"),
        pytest.param(seed_config(), id="seed"),
    ],
)
def test_valid_configs_are_accepted(data: dict[str, Any]) -> None:
    errors = [e.message for e in _validator().iter_errors(_as_json(data))]
    assert errors == []


def test_every_case_of_the_validation_table_is_classified() -> None:
    names = {name for name, _mutation, _message in CASES}
    assert set(BEYOND_JSON_SCHEMA) <= names


@pytest.mark.parametrize(
    ("name", "mutation"),
    [pytest.param(n, m, id=n) for n, m, _ in CASES],
)
def test_the_schema_rejects_the_bad_configs(name: str, mutation: Mutation) -> None:
    data = copy.deepcopy(seed_config())
    mutation(data)
    errors = list(_validator().iter_errors(_as_json(data)))
    if name in BEYOND_JSON_SCHEMA:
        assert errors == [], "the schema now catches this: move it out of BEYOND_JSON_SCHEMA"
    else:
        assert errors != [], f"{name}: accepted by the schema"
