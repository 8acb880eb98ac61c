"""The ``store`` fixture of the contract suite: every backend of ``STORE_FACTORIES``
(tests/support/store_backends.py, where another backend is added).
"""

from __future__ import annotations

from tests.support.store_backends import STORE_FACTORIES, store_fixture

store = store_fixture(*sorted(STORE_FACTORIES))
