"""The admin API (``/admin/``), the dashboard and ``/metrics``, behind the admin key.

>>> # admin = create_admin_app(gateway)  # a separate ASGI app over the same Gateway
"""

from teamgate.admin.app import AdminApp, create_admin_app, handles

__all__ = ["AdminApp", "create_admin_app", "handles"]
