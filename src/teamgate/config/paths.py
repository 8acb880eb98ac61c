"""Paths in a config file are relative to that file, not to the working folder.

``storage.url: sqlite:///teamgate.db`` and ``secret: file:keys/groq`` in
``/etc/teamgate/teamgate.yaml`` mean ``/etc/teamgate/teamgate.db`` and
``/etc/teamgate/keys/groq``, whichever folder ``teamgate`` runs in. Absolute
paths, in-memory databases and other URLs are left alone. The packaged example
config is the one exception: it lives inside the installed package, so its
relative paths stay relative to the working folder (``scripts/serve`` keeps its
ledger in ``./teamgate.db``).

>>> from teamgate.config.schema import Settings, StorageSettings
>>> s = Settings(teams={}, storage=StorageSettings(url="sqlite:///data/tg.db"))
>>> anchor_paths(s, Path("/etc/teamgate")).storage.url
'sqlite:////etc/teamgate/data/tg.db'
>>> anchor_paths(s, Path("/etc/teamgate")).storage.url == anchor_paths(
...     anchor_paths(s, Path("/etc/teamgate")), Path("/elsewhere")).storage.url
True
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from teamgate.config.schema import Settings

SQLITE_PREFIX = "sqlite:///"
_MEMORY = (":memory:", "")


def anchor_sqlite_url(url: str, base: Path) -> str:
    """``sqlite:///rel.db`` → ``sqlite:////base/rel.db``; anything else unchanged.

    >>> anchor_sqlite_url("sqlite:///x.db", Path("/srv"))
    'sqlite:////srv/x.db'
    >>> anchor_sqlite_url("sqlite:////var/x.db", Path("/srv"))
    'sqlite:////var/x.db'
    >>> anchor_sqlite_url("postgresql://db/tg", Path("/srv"))
    'postgresql://db/tg'
    """
    if not url.startswith(SQLITE_PREFIX):
        return url
    path = url.removeprefix(SQLITE_PREFIX)
    if path in _MEMORY or Path(path).is_absolute():
        return url
    return SQLITE_PREFIX + str((base / path).resolve())


def anchor_secret_ref(ref: str, base: Path) -> str:
    """``file:rel`` → ``file:/base/rel``; other references unchanged."""
    if not ref.startswith("file:"):
        return ref
    path = ref.removeprefix("file:")
    if not path or Path(path).is_absolute():
        return ref
    return "file:" + str((base / path).resolve())


def anchor_paths(settings: Settings, base: Path, skip: frozenset[str] = frozenset()) -> Settings:
    """``settings`` with every relative path setting made absolute against ``base``.

    ``skip``: key paths set by environment variables (left relative to the working folder).
    """
    teams = {}
    for name, team in settings.teams.items():
        environments = {
            env_name: dataclasses.replace(
                env,
                upstream_keys=tuple(
                    dataclasses.replace(key, secret=anchor_secret_ref(key.secret, base))
                    for key in env.upstream_keys
                ),
            )
            for env_name, env in team.environments.items()
        }
        teams[name] = dataclasses.replace(team, environments=environments)
    url = settings.storage.url
    if "storage.url" not in skip:
        url = anchor_sqlite_url(url, base)
    storage = dataclasses.replace(settings.storage, url=url)
    return dataclasses.replace(settings, teams=teams, storage=storage)


def sqlite_file(url: str) -> Path | None:
    """The database file a ``sqlite:///`` URL names, or None (memory, PostgreSQL).

    >>> sqlite_file("sqlite:////srv/x.db"), sqlite_file("sqlite://:memory:")
    (PosixPath('/srv/x.db'), None)
    """
    if not url.startswith(SQLITE_PREFIX):
        return None
    path = url.removeprefix(SQLITE_PREFIX)
    return None if path in _MEMORY else Path(path)
