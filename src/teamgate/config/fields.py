"""Checks that turn one raw YAML value into a typed one, or into a problem.

A scalar check (``positive_int``, ``money``, …) raises :class:`Invalid` with a
message that does not repeat the key path. :class:`Section` reads one mapping:
it reports unknown keys, adds the dotted path to every problem and records it
in :class:`Problems`, so one pass over a file reports all of its problems.

>>> problems = Problems()
>>> server = Section(problems, "server", {"port": -1, "hots": "x"}, known=("host", "port"))
>>> server.get("port", port_number, 8080)
8080
>>> for line in problems.lines():
...     print(line)
server.hots: unknown key (did you mean host?)
server.port: must be a port number in 0..65535 (0: pick a free port), got -1
"""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from teamgate.config.errors import ConfigError

T = TypeVar("T")

# Model names hold dots (llama-3.3-70b-versatile) and stay readable unquoted;
# only keys with spaces, brackets or quotes (or empty ones) are bracketed.
_PLAIN_KEY = re.compile(r"^[^\[\]\s\"']+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# JSON Schema fragments shared by several checks.
DECIMAL_PATTERN = r"^\s*\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
NOT_BLANK = r"\S"
HTTP_URL_PATTERN = r"^https?://[^/?#\s]+"
FINITE = {"maximum": sys.float_info.max}  # 10**400 is an integer JSON Schema would take


class Check(Generic[T]):
    """A check of one raw value, and the JSON Schema of the values it accepts.

    Calling it checks (``Invalid`` on a problem); ``json_schema`` is what
    ``teamgate schema`` publishes for the keys read through it, so the schema
    and the loader cannot drift apart. Some rules (decimal places, cross-field
    rules) are narrower than the schema can say; the loader has the last word.
    """

    def __init__(self, run: Callable[[Any], T], json_schema: Mapping[str, Any]) -> None:
        self._run = run
        self.json_schema: dict[str, Any] = dict(json_schema)
        self.__doc__ = run.__doc__
        self.__name__ = run.__name__

    def __call__(self, value: Any) -> T:
        return self._run(value)

    def __repr__(self) -> str:
        return f"Check({self.__name__})"


def checks(json_schema: Mapping[str, Any]) -> Callable[[Callable[[Any], T]], Check[T]]:
    """Decorate a check function with the JSON Schema of what it accepts."""

    def wrap(run: Callable[[Any], T]) -> Check[T]:
        return Check(run, json_schema)

    return wrap


class Invalid(Exception):
    """One value's problem, worded without its path (``must be …, got …``)."""


class InvalidConfig(ConfigError):
    """Every problem found in one configuration, each naming its key path.

    ``path`` and ``problem`` are the first problem's; ``str()`` lists them all,
    one ``path: problem`` per line.

    >>> err = InvalidConfig([("server.port", "must be …"), ("org", "must be …")])
    >>> str(err).splitlines()
    ['server.port: must be …', 'org: must be …']
    """

    def __init__(self, problems: Sequence[tuple[str, str]], *, source: str = "") -> None:
        first_path, first_problem = problems[0]
        super().__init__(first_path, first_problem)
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        self.source = source

    def __str__(self) -> str:
        return "\n".join(
            f"{path}: {problem}" if path else problem for path, problem in self.problems
        )


def child(path: str, key: object) -> str:
    """The path of ``key`` inside ``path``; keys with spaces or brackets are bracketed."""
    text = str(key)
    if not _PLAIN_KEY.match(text):
        return f"{path}[{json.dumps(text)}]"
    return f"{path}.{text}" if path else text


def item(path: str, index: int) -> str:
    """The path of a list's ``index``-th item."""
    return f"{path}[{index}]"


def is_within(path: str, outer: str) -> bool:
    """Whether ``path`` is ``outer`` or a key path below it."""
    return path == outer or path.startswith((outer + ".", outer + "["))


def shown(value: object) -> str:
    """A short, unambiguous rendering of a raw value for a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Problems:
    """The problems found so far, as ``(path, problem)`` pairs in the order found.

    ``origins`` maps a key path to the ``TEAMGATE_*`` variable that set it, so a
    problem at or below that path says where the value came from.
    """

    def __init__(self, origins: Mapping[str, str] | None = None) -> None:
        self._origins = dict(origins or {})
        self._items: list[tuple[str, str]] = []

    def add(self, path: str, problem: str) -> None:
        for origin_path, variable in self._origins.items():
            if is_within(path, origin_path):
                problem = f"{problem} (from {variable})"
                break
        self._items.append((path, problem))

    def __len__(self) -> int:
        return len(self._items)

    def lines(self) -> list[str]:
        return [f"{path}: {problem}" if path else problem for path, problem in self._items]

    def raise_if_any(self, source: str = "") -> None:
        if self._items:
            raise InvalidConfig(self._items, source=source)


def as_mapping(problems: Problems, path: str, value: object) -> Mapping[Any, Any]:
    """``value`` as a mapping; ``None`` (an empty YAML section) is ``{}``."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    problems.add(path, f"must be a mapping, got {shown(value)}")
    return {}


def as_list(problems: Problems, path: str, value: object) -> list[Any]:
    """``value`` as a list; ``None`` is ``[]``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    problems.add(path, f"must be a list, got {shown(value)}")
    return []


def unknown_key_problem(key: object, known: Iterable[str]) -> str:
    names = list(known)
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    return f"unknown key (known keys: {', '.join(names)})"


class Section:
    """One mapping of the config being read, with its path and its known keys.

    Unknown keys are reported when it is created; each ``get``/``require`` reads
    a key through a check and falls back to ``default`` after reporting.
    """

    def __init__(
        self, problems: Problems, path: str, value: object, *, known: Sequence[str]
    ) -> None:
        self.problems = problems
        self.path = path
        self.data = as_mapping(problems, path, value)
        for key in self.data:
            if key not in known:
                problems.add(child(path, key), unknown_key_problem(key, known))

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        return self.data.get(key)

    def at(self, key: str) -> str:
        return child(self.path, key)

    def get(self, key: str, check: Callable[[Any], T], default: T) -> T:
        if key not in self.data:
            return default
        try:
            return check(self.data[key])
        except Invalid as problem:
            self.problems.add(self.at(key), str(problem))
            return default

    def read(self, fields: Mapping[str, Check[Any]], defaults: object) -> dict[str, Any]:
        """Every key of ``fields`` read through its check; absent keys: ``defaults``'s value."""
        return {key: self.get(key, check, getattr(defaults, key)) for key, check in fields.items()}

    def require(self, key: str, check: Callable[[Any], T], default: T) -> T:
        if key not in self.data:
            self.problems.add(self.at(key), "is required")
            return default
        return self.get(key, check, default)


def optional(check: Check[T]) -> Check[T | None]:
    """``check`` that also accepts ``null``."""

    def check_or_none(value: Any) -> T | None:
        return None if value is None else check(value)

    return Check(check_or_none, {"anyOf": [check.json_schema, {"type": "null"}]})


def _is_number(value: object) -> bool:
    """An int or float (not a bool) that fits in a finite float."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@checks({"type": "integer", "minimum": 1})
def positive_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise Invalid(f"must be a positive integer, got {shown(value)}")


@checks({"type": "integer", "minimum": 0})
def non_negative_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise Invalid(f"must be an integer >= 0, got {shown(value)}")


@checks({"type": "integer", "minimum": 0, "maximum": 65535})
def port_number(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        return value
    raise Invalid(f"must be a port number in 0..65535 (0: pick a free port), got {shown(value)}")


@checks({"type": "number", "exclusiveMinimum": 0, **FINITE})
def positive_number(value: Any) -> float:
    if _is_number(value) and value > 0:
        return float(value)
    raise Invalid(f"must be a positive number, got {shown(value)}")


@checks({"type": "number", "minimum": 0, **FINITE})
def non_negative_number(value: Any) -> float:
    if _is_number(value) and value >= 0:
        return float(value)
    raise Invalid(f"must be a number >= 0, got {shown(value)}")


@checks({"type": "boolean"})
def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"must be true or false, got {shown(value)}")


@checks({"type": "string", "pattern": NOT_BLANK})
def string(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a string, got {shown(value)}")
    if not value.strip():
        raise Invalid("must not be empty")
    return value


@checks({"type": "string", "pattern": _ENV_NAME.pattern})
def env_var_name(value: Any) -> str:
    if isinstance(value, str) and _ENV_NAME.match(value):
        return value
    raise Invalid(f"must be an environment variable name, got {shown(value)}")


def choice(*options: str) -> Check[str]:
    """A check that accepts exactly one of ``options``."""

    def check_choice(value: Any) -> str:
        if isinstance(value, str) and value in options:
            return value
        raise Invalid(f"must be one of {', '.join(options)}, got {shown(value)}")

    return Check(check_choice, {"enum": list(options)})


@checks({"type": "string", "pattern": HTTP_URL_PATTERN})
def http_url(value: Any) -> str:
    """An ``http://`` or ``https://`` URL with a host; a trailing ``/`` is dropped."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.hostname:
            return value.rstrip("/")
    raise Invalid(f"must be an http(s) URL, got {shown(value)}")


@checks({"type": "string", "pattern": HTTP_URL_PATTERN})
def secret_http_url(value: Any) -> str:
    """Like :func:`http_url`, but the value (which may hold a token) is never shown."""
    try:
        return http_url(value)
    except Invalid:
        raise Invalid("must be an http(s) URL (the value is not shown)") from None


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(f"must be {what}, got {shown(value)}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Invalid(f"must be {what}, got {shown(value)}") from None
    if not amount.is_finite() or amount < 0:
        raise Invalid(f"must be {what}, got {shown(value)}")
    return abs(amount)  # no -0


def _decimal_places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@checks(
    {
        "anyOf": [
            {"type": "number", "minimum": 0, **FINITE},
            {"type": "string", "pattern": DECIMAL_PATTERN},
        ]
    }
)
def money(value: Any) -> Decimal:
    """A USD amount >= 0, exact: ``Decimal(str(value))``, never a float."""
    amount = _decimal(value, "an amount in USD >= 0")
    if _decimal_places(amount) > 12:
        raise Invalid(f"must have at most 12 decimal places, got {shown(value)}")
    return amount


@checks(
    {
        "anyOf": [
            {"type": "number", "enum": [0]},
            {"type": "number", "minimum": 0.000001, **FINITE},  # else > 6 decimals
            {"type": "string", "pattern": DECIMAL_PATTERN},
        ]
    }
)
def price_amount(value: Any) -> Decimal:
    """USD per 1M tokens, >= 0, at most 6 decimal places (one picodollar a token)."""
    amount = _decimal(value, "a price in USD per 1M tokens >= 0")
    if _decimal_places(amount) > 6:
        raise Invalid(f"must have at most 6 decimal places, got {shown(value)}")
    return amount


@checks({"type": "string", "format": "date"})
def iso_date(value: Any) -> date:
    """A ``YYYY-MM-DD`` day (YAML parses an unquoted one into a date already)."""
    if isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Invalid(f"must be a date YYYY-MM-DD, got {shown(value)}")


@checks({"type": "number", "exclusiveMinimum": 0, "maximum": 1})
def fraction(value: Any) -> Decimal:
    """A fraction in (0, 1], exact; ``50`` gets a hint to write ``0.5``."""
    amount = _decimal(value, "a fraction in (0, 1]") if _is_number(value) else None
    if amount is None:
        raise Invalid(f"must be a fraction in (0, 1], got {shown(value)}")
    if 0 < amount <= 1:
        return amount
    hint = f" (write {amount}% as {amount / 100})" if 1 < amount <= 100 else ""
    raise Invalid(f"must be a fraction in (0, 1], got {shown(value)}{hint}")
