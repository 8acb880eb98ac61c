"""The docs show every alert event with an example payload, and the examples and the
published schema are the code's (docs are tests)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from teamgate.observability.alert_delivery import ALERT_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
ALERTS = (ROOT / "docs" / "visibility.md").read_text().split("## Alerts", 1)[1]
ALERTS = ALERTS.split("\n## ", 1)[0]
EVENTS = ("budget_threshold", "budget_exhausted", "budget_forecast", "paused", "resumed")


def _blocks() -> list[dict[str, object]]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)\n```", ALERTS, re.S)]


def _readme_examples() -> dict[str, dict[str, object]]:
    section = README.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and cells[-2].strip().startswith("`{"):
            example = json.loads(cells[-2].strip().strip("`"))
            found[str(example["event"])] = example
    return found


def test_the_published_schema_is_the_codes() -> None:
    [schema] = [b for b in _blocks() if "$schema" in b]
    assert schema == ALERT_SCHEMA


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_has_a_valid_example_in_both_docs(event: str) -> None:
    examples = [b for b in _blocks() if b.get("event") == event]
    assert examples, f"docs/visibility.md has no example of {event}"
    for example in examples:
        jsonschema.validate(example, ALERT_SCHEMA)
        assert example["kind"] == event
    readme = _readme_examples()[event]
    jsonschema.validate({**readme, "text": "…", "kind": event, "ts": 0.0}, ALERT_SCHEMA)
    assert f"`{event}`" in ALERTS
