"""The ``admin_gateway`` fixture for the admin API tests (see tests/support/admin_gateway.py)."""

from __future__ import annotations

from tests.support.admin_gateway import admin_gateway

__all__ = ["admin_gateway"]
