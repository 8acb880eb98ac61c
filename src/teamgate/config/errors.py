"""The one error a configuration problem raises, with the dotted key path it concerns."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, with the dotted key path it concerns.

    >>> str(ConfigError("teams.chatbot.limits.rpm", "must be a positive integer, got -5"))
    'teams.chatbot.limits.rpm: must be a positive integer, got -5'
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)
