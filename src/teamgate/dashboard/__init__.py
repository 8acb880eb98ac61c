"""The operator dashboard: login, a page of inline-SVG charts, and its JSON (``/admin/overview``)."""
