"""Shared state in Redis: the client, batched script calls, the limit and budget backends."""
