"""The HTTP wire without business rules: Groq-shaped errors, ASGI helpers, request ids.

Every layer raises :mod:`teamgate.http.errors`, so this package sits at the bottom of the
import layers and imports nothing of teamgate's but its own modules.
"""
