"""Build teamgate's wheel once per test session and install it into fresh venvs.

The build runs on a copy of the tracked (and new, unignored) files, so the
source tree gets no ``build/`` or ``*.egg-info``; pytest-xdist workers share
one build through a lock file. Installs use ``-c requirements.lock`` (the
versions the suite runs with) and pip's cache, so only the PyPI mirror is
reached, and rarely.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[3]
LOCK = REPO / "requirements.lock"
# The lock's pins without their hashes: the constraints a wheel is installed with (pip's
# hash mode would demand a hash for the wheel just built too). The Dockerfile runs the
# same sed.
STRIP_HASHES = "s/ --hash=[^ ]*//g"


def constraints(into: Path) -> Path:
    """requirements.lock without hashes, written to ``into``/constraints.txt."""
    path = into / "constraints.txt"
    path.write_text(re.sub(r" --hash=\S*", "", LOCK.read_text()))
    return path


def _source_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


def build_dist(shared: Path) -> tuple[Path, Path]:
    """``(sdist, wheel)`` built by ``python -m build`` (the wheel from the sdist)."""
    shared.mkdir(parents=True, exist_ok=True)
    with (shared / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        dist = shared / "dist"
        if not list(dist.glob("*.whl")):
            tree = shared / "source"
            shutil.rmtree(tree, ignore_errors=True)
            for name in _source_files():
                (tree / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, tree / name)
            subprocess.run(
                [sys.executable, "-m", "build", "--outdir", str(dist), str(tree)],
                check=True,
                capture_output=True,
                timeout=600,
            )
        return next(dist.glob("*.tar.gz")), next(dist.glob("*.whl"))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the dev venv, teamgate settings or a Groq key."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEAMGATE_", "GROQ_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {**env, **extra}


@dataclass
class Venv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def run(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=cwd,
            env=env or clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def make_venv(root: Path, wheel: Path, extras: str = "") -> Venv:
    """A fresh venv with ``wheel`` (``[extras]``) installed, pinned by requirements.lock."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=120)
    venv = Venv(root)
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    result = venv.run(
        "python",
        *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *(target, "-c", str(constraints(root))),
        cwd=root,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


@contextmanager
def serving(venv: Venv, config: Path, cwd: Path, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """``teamgate serve`` from ``venv``; yields its URL and its log; SIGTERM must exit 0."""
    port = free_port()
    log = cwd / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(venv.bin / "teamgate"), "serve", "--config", str(config), "--port", str(port)],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url, log
    finally:
        proc.terminate()
        code = proc.wait(30)
    assert code == 0, log.read_text()
