"""The SQLite store: one file, WAL, the embedded default."""
