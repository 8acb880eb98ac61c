"""Files teamgate writes that hold usage, key hashes or the audit trail are the owner's only.

>>> import tempfile, os, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "ledger.db"
>>> owner_only(path)
>>> oct(os.stat(path).st_mode & 0o777)
'0o600'
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

OWNER_ONLY = 0o600


def owner_only(path: Path, *, create: bool = True) -> None:
    """Make ``path`` mode 0600 (creating it empty, already 0600, when asked and absent)."""
    if create and not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY))
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, OWNER_ONLY)


def open_new_owner_only(path: Path) -> int:
    """A new file (error if it exists) opened for writing, mode 0600: a file descriptor."""
    return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY)
