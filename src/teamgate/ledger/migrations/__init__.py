"""Versioned PostgreSQL migrations: ``NNNN_name.sql``, applied in order by ``teamgate migrate``.

Never edit a released file; add the next number instead. Packaging note: the
``*.sql`` files must ship as package data (``ledger/migrations/*.sql``).
"""
