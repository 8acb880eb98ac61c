"""One SQLite write transaction: ``BEGIN IMMEDIATE``, then COMMIT, or ROLLBACK on any error.

``IMMEDIATE`` takes the write lock at the start, so two writers never both read and
then fail to upgrade (``SQLITE_BUSY`` mid-transaction); the connection is in
autocommit mode (``isolation_level=None``) so these statements are the only ones.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:", isolation_level=None)
>>> with immediate(conn):
...     _ = conn.execute("CREATE TABLE t (x)")
>>> conn.in_transaction
False
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
