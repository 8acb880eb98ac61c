"""Talking to Groq: the pooled HTTP client and each project's upstream keys."""
