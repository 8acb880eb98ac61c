"""The operator dashboard: a login, a page of inline-SVG charts, its JSON (``/admin/overview``)."""
