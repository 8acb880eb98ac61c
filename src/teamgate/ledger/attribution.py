"""Who and what a request's spend is for: an end-user id and feature tags.

A client names the end user with the body's ``user`` field (the OpenAI/Groq
convention) or the ``x-teamgate-user`` header, and tags the request with
``x-teamgate-tags: feature=search,tenant=acme``. Both are bounded, so a ledger
row stays small and a report's groups stay meaningful:

* user: 1 to 256 characters, printable (no control characters);
* tags: at most 8 pairs ``key=value``, comma-separated (spaces around a pair
  are ignored); a key is 1 to 32 of ``a-z 0-9 _ -`` starting with a letter;
  a value 1 to 64 of ``A-Z a-z 0-9 _ - . : @ /``; a key appears once.

Anything else is a 400 ``invalid_attribution`` that says which rule was
broken. When both the header and the body name a user, the header wins (it is
teamgate's own channel; the body is Groq's and is forwarded as the client wrote
it). Tags are stored in one canonical text, the pairs sorted by key
(``feature=search,tenant=acme``), so equal tag sets are equal strings.

>>> parse_tags(" tenant=acme , feature=search")
'feature=search,tenant=acme'
>>> tag_value("feature=search,tenant=acme", "tenant"), tag_value("feature=search", "tenant")
('acme', '')
>>> parse_tags("feature=a,feature=b")
Traceback (most recent call last):
...
teamgate.http.errors.InvalidRequest: x-teamgate-tags: tag key 'feature' is given twice
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from teamgate.http.errors import InvalidRequest

USER_HEADER = b"x-teamgate-user"
TAGS_HEADER = b"x-teamgate-tags"
MAX_USER_CHARS = 256
MAX_TAGS = 8
MAX_TAG_KEY_CHARS = 32
MAX_TAG_VALUE_CHARS = 64
TAG_KEY = re.compile(r"[a-z][a-z0-9_-]{0,31}")
TAG_VALUE = re.compile(r"[A-Za-z0-9_.:@/-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CODE = "invalid_attribution"


@dataclass(frozen=True, slots=True)
class Attribution:
    """The end user and canonical tags a request is recorded with ("" for none)."""

    end_user: str = ""
    tags: str = ""


NONE = Attribution()


def _bad(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}", code=CODE)


def check_user(value: object, where: str) -> str:
    """A valid end-user id, or a 400 naming ``where`` (the header or ``user``).

    >>> check_user("u-42", "user")
    'u-42'
    """
    if not isinstance(value, str):
        raise _bad(where, "the end-user id must be a string")
    if not value:
        raise _bad(where, "the end-user id is empty")
    if len(value) > MAX_USER_CHARS:
        raise _bad(where, f"the end-user id is {len(value)} characters; at most {MAX_USER_CHARS}")
    if _CONTROL.search(value):
        raise _bad(where, "the end-user id contains a control character")
    return value


def parse_tags(text: str) -> str:
    """The canonical form of an ``x-teamgate-tags`` value ("" for an empty one), or a 400."""
    where = TAGS_HEADER.decode()
    if not text.strip():
        return ""
    pairs: dict[str, str] = {}
    for raw in text.split(","):
        item = raw.strip()
        if "=" not in item:
            shown = item[:40] or "an empty item"
            raise _bad(where, f"{shown!r} is not key=value (write feature=search,tenant=acme)")
        key, value = (part.strip() for part in item.split("=", 1))
        if not TAG_KEY.fullmatch(key):
            raise _bad(
                where,
                f"tag key {key[:40]!r} must be 1 to {MAX_TAG_KEY_CHARS} characters of a-z, "
                "0-9, _ and -, starting with a letter",
            )
        if not TAG_VALUE.fullmatch(value):
            raise _bad(
                where,
                f"the value of tag {key!r} must be 1 to {MAX_TAG_VALUE_CHARS} characters of "
                "A-Z, a-z, 0-9, _, -, ., :, @ and /",
            )
        if key in pairs:
            raise _bad(where, f"tag key {key!r} is given twice")
        pairs[key] = value
        if len(pairs) > MAX_TAGS:
            raise _bad(where, f"more than {MAX_TAGS} tags")
    return ",".join(f"{k}={v}" for k, v in sorted(pairs.items()))


def tag_value(tags: str, key: str) -> str:
    """The value of tag ``key`` in canonical ``tags``; "" when it is absent."""
    for pair in tags.split(","):
        name, _, value = pair.partition("=")
        if name == key:
            return value
    return ""


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> Attribution:
    """The attribution the request's headers carry (a repeated header is a 400)."""
    user: str | None = None
    tags: str | None = None
    for name, raw in headers:
        if name not in (USER_HEADER, TAGS_HEADER):
            continue
        where = name.decode()
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(where, "the header is not UTF-8") from None
        if (user if name == USER_HEADER else tags) is not None:
            raise _bad(where, "the header is given more than once")
        if name == USER_HEADER:
            user = value
        else:
            tags = value
    if user is None and tags is None:
        return NONE  # the common case: no object, no checks
    return Attribution(
        "" if user is None else check_user(user, USER_HEADER.decode()),
        "" if tags is None else parse_tags(tags),
    )


def with_body_user(attribution: Attribution, body_user: object) -> Attribution:
    """The attribution once the body's ``user`` is known: checked, and used unless the
    header named a user already (the header wins)."""
    if body_user is None:
        return attribution
    user = check_user(body_user, "user")
    if attribution.end_user:
        return attribution
    return Attribution(user, attribution.tags)


# --- grouping by them: the summary dimensions ``user`` and ``tag:KEY`` --------------------
USER_DIMENSION = "user"
TAG_PREFIX = "tag:"


def is_attribution_dimension(dim: str) -> bool:
    """True for ``user`` and a well-formed ``tag:KEY``.

    >>> [is_attribution_dimension(d) for d in ("user", "tag:feature", "tag:", "tag:A", "team")]
    [True, True, False, False, False]
    """
    if dim == USER_DIMENSION:
        return True
    return dim.startswith(TAG_PREFIX) and TAG_KEY.fullmatch(dim[len(TAG_PREFIX) :]) is not None
