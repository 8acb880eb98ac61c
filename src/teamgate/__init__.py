"""teamgate: a team access gateway for Groq's inference API."""

__version__ = "0.1.0"
