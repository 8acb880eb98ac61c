"""Run ``teamgate`` (or import modules) as if no extra were installed.

``python without_extras.py cli ARGS...`` runs the teamgate CLI;
``python without_extras.py import MODULE...`` imports each module and prints
``MODULE: ok`` or ``MODULE: <exception class>: <message>``. Imports of the
extras' packages fail as they do on a bare install.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from types import ModuleType

EXTRA_PACKAGES = (
    "redis",
    "hiredis",
    "asyncpg",
    "boto3",
    "botocore",
    "google",
    "opentelemetry",
    "jwt",
)


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: ModuleType | None = None) -> None:
        if name.partition(".")[0] in EXTRA_PACKAGES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def main() -> int:
    sys.meta_path.insert(0, _NotInstalled())
    mode, *rest = sys.argv[1:]
    if mode == "cli":
        from teamgate.cli import main as cli_main

        return cli_main(rest)
    for module in rest:
        try:
            importlib.import_module(module)
        except Exception as exc:
            print(f"{module}: {type(exc).__name__}: {exc}")
        else:
            print(f"{module}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
