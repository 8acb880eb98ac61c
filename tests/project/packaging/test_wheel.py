"""The wheel is the product: built by ``python -m build``, installed into a fresh venv
outside the source tree (no extras, then ``[postgres,redis]``), it checks, serves on the
simulator and answers an SDK call."""

from __future__ import annotations

import asyncio
import re
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import groq
import httpx
import pytest

from tests.project.packaging.wheel_venv import REPO, Venv, build_dist, clean_env, make_venv, serving
from tests.support.shared_services import (
    POSTGRES_URL,
    REDIS_URL,
    create_schema,
    drop_schema,
    unique_name,
)

RUNTIME_FILES = [
    "teamgate/py.typed",
    "teamgate/teamgate.example.yaml",
    "teamgate/dashboard/static/app.js",
    "teamgate/dashboard/static/style.css",
    *(
        f"teamgate/ledger/migrations/{p.name}"
        for p in sorted((REPO / "src/teamgate/ledger/migrations").glob("*.sql"))
    ),
]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # The parent of the base temp dir is shared by pytest-xdist workers: one build.
    return build_dist(tmp_path_factory.getbasetemp().parent / "teamgate-dist")


@pytest.fixture(scope="session")
def bare_venv(dist: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return make_venv(tmp_path_factory.mktemp("venv-bare"), dist[1])


def test_the_wheel_and_sdist_hold_every_runtime_file(dist: tuple[Path, Path]) -> None:
    sdist, wheel = dist
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [f for f in RUNTIME_FILES if f not in names] == []
    with tarfile.open(sdist) as tar:
        sdist_names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert [f for f in RUNTIME_FILES if f"src/{f}" not in sdist_names] == []
    assert not [n for n in names if n.startswith(("tests/", "bench/"))]


def _quickstart_key(log: Path, team: str) -> str:
    match = re.search(rf"{team}-\w+-quickstart: (tg_\S+)", log.read_text())
    assert match, log.read_text()
    return match.group(1)


def _serve_and_call(venv: Venv, config: Path, work: Path, env: dict[str, str]) -> None:
    with serving(venv, config, work, env) as (url, log):
        assert httpx.get(url + "/healthz").json() == {"status": "ok"}
        assert httpx.get(url + "/readyz").json() == {"status": "ok"}
        client = groq.Groq(api_key=_quickstart_key(log, "chatbot"), base_url=url, max_retries=0)
        reply = client.chat.completions.create(
            model="llama-3.1-8b-instant", messages=[{"role": "user", "content": "hello"}]
        )
        assert reply.choices[0].message.content
        assert reply.usage is not None and reply.usage.total_tokens > 0
        assert "SIMULATOR MODE" in log.read_text()


def test_installed_without_extras_it_checks_serves_and_answers(
    bare_venv: Venv, tmp_path: Path
) -> None:
    found = bare_venv.run("python", "-c", "import teamgate; print(teamgate.__file__)", cwd=tmp_path)
    assert found.stdout.strip().startswith(str(bare_venv.root)), found
    missing = bare_venv.run(
        "python", "-c", "import redis", cwd=tmp_path
    )  # no extra: no Redis client
    assert missing.returncode != 0
    check = bare_venv.run("teamgate", "check", cwd=tmp_path)  # the packaged example
    assert check.returncode == 0, check.stderr
    assert "teamgate config OK" in check.stdout
    config = tmp_path / "teamgate.yaml"
    packaged = bare_venv.run(
        "python",
        "-c",
        "from teamgate.config.loader import example_config_path as p; print(p().read_text())",
        cwd=tmp_path,
    ).stdout
    config.write_text(packaged)
    _serve_and_call(bare_venv, config, tmp_path, clean_env())
    assert (tmp_path / "teamgate.db").exists()  # the example's SQLite ledger, in cwd
    pg = bare_venv.run(
        "teamgate",
        "check",
        cwd=tmp_path,
        env=clean_env(TEAMGATE_STORAGE__URL="postgresql://tg:pw@db/tg"),
    )
    assert (pg.returncode, pg.stderr.strip()) == (
        2,
        "teamgate: config error: storage.url is postgresql://… but asyncpg is not "
        "installed: pip install 'teamgate[postgres]'",
    )


@pytest.fixture
def pg_schema() -> Iterator[str]:
    name = unique_name("wheel")
    asyncio.run(create_schema(name))
    yield name
    asyncio.run(drop_schema(name))


def test_with_postgres_and_redis_extras_it_migrates_serves_and_answers(
    dist: tuple[Path, Path], tmp_path: Path, pg_schema: str
) -> None:
    venv = make_venv(tmp_path / "venv", dist[1], "postgres,redis")
    work = tmp_path / "work"
    work.mkdir()
    env = clean_env(
        TEAMGATE_STORAGE__URL=f"{POSTGRES_URL}?search_path={pg_schema}",
        TEAMGATE_REDIS__URL=REDIS_URL,
        TEAMGATE_REDIS__KEY_PREFIX=f"{pg_schema}:",
    )
    refused = venv.run("teamgate", "keys", "list", cwd=work, env=env)
    assert refused.returncode != 0 and "teamgate migrate" in refused.stderr
    migrated = venv.run("teamgate", "migrate", cwd=work, env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied migration(s)" in migrated.stdout
    config = work / "teamgate.yaml"
    config.write_text(
        venv.run(
            "python",
            "-c",
            "from teamgate.config.loader import example_config_path as p; print(p().read_text())",
            cwd=work,
        ).stdout
    )
    _serve_and_call(venv, config, work, env)
    listed = venv.run("teamgate", "keys", "list", "--json", cwd=work, env=env)
    assert listed.returncode == 0 and "chatbot-prod-quickstart" in listed.stdout
