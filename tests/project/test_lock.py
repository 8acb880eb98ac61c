"""requirements.lock pins every dependency with a hash, and agrees with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?: --hash=sha256:[0-9a-f]{64})+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not a hashed pin: {line!r}"
        pins[_norm(match[1])] = match[2]
    return pins


def test_every_pin_has_a_hash_and_every_pyproject_pin_is_locked_at_its_version() -> None:
    pins = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    for requirement in declared:
        name, sep, version = requirement.split(";")[0].strip().partition("==")
        if sep:
            assert pins.get(_norm(name.split("[")[0])) == version, requirement


def test_bootstrap_installs_the_lock_with_require_hashes() -> None:
    script = (ROOT / "scripts" / "bootstrap").read_text()
    assert "--require-hashes -r requirements.lock" in script
    assert "--no-deps -e ." in script
