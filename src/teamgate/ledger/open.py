"""Pick the store backend from ``storage.url``.

``sqlite:///teamgate.db`` is a relative path (the config loader anchors it at the
config file's folder, :mod:`teamgate.config.paths`),
``sqlite:////var/lib/teamgate/teamgate.db`` an absolute one (SQLAlchemy's
convention), ``sqlite://:memory:`` (or ``sqlite:///:memory:``) an in-memory
database for tests. The store comes back unopened: ``await store.open()``.

>>> open_store("sqlite:///data/teamgate.db")
SQLiteStore('data/teamgate.db')
>>> open_store("sqlite:////var/lib/teamgate.db")
SQLiteStore('/var/lib/teamgate.db')
>>> open_store("postgres://teamgate:pw@db/teamgate")
PostgresStore('postgresql://teamgate:***@db/teamgate')
"""

from __future__ import annotations

from teamgate.config.errors import ConfigError
from teamgate.config.extras import import_for, scheme_of
from teamgate.ledger.sqlite.store import SQLiteStore
from teamgate.ledger.store import Store

_MEMORY_URLS = ("sqlite://:memory:", "sqlite:///:memory:")


def open_store(url: str) -> Store:
    """The store for ``url``; :class:`ConfigError` (path ``storage.url``) if unsupported."""
    if url in _MEMORY_URLS:
        return SQLiteStore(":memory:")
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path or path.endswith("/"):
            raise ConfigError("storage.url", f"no database file in {url!r}")
        return SQLiteStore(path)
    scheme = url.partition("://")[0].lower()
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        # asyncpg is an extra: imported only when used, else one line naming it
        postgres = import_for(
            "teamgate.ledger.postgres.store", "postgres", "storage.url", scheme_of(url)
        )
        store: Store = postgres.PostgresStore("postgresql://" + url.partition("://")[2])
        return store
    raise ConfigError(
        "storage.url",
        f"unsupported URL {scheme + '://…' if '://' in url else repr(url)}: "
        "expected sqlite:///path/to/teamgate.db",
    )
