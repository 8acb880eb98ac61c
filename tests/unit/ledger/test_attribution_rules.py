"""The attribution rules on their own (ledger/attribution.py): headers, body user, tags."""

from __future__ import annotations

import pytest

from teamgate.http.errors import InvalidRequest
from teamgate.ledger.attribution import (
    MAX_TAGS,
    Attribution,
    from_headers,
    parse_tags,
    with_body_user,
)


def test_canonical_tags_sort_pairs_and_drop_spaces() -> None:
    assert parse_tags("tenant=acme ,  feature=search") == "feature=search,tenant=acme"
    assert parse_tags("   ") == ""
    many = ",".join(f"k{i}=v" for i in range(MAX_TAGS))
    assert parse_tags(many).count(",") == MAX_TAGS - 1
    assert parse_tags("a=A-z_0.9:x@y/z") == "a=A-z_0.9:x@y/z"


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ([(b"x-teamgate-tags", b"a=1"), (b"x-teamgate-tags", b"b=2")], "more than once"),
        ([(b"x-teamgate-user", b"a"), (b"x-teamgate-user", b"b")], "more than once"),
        ([(b"x-teamgate-user", b"\xff\xfe")], "not UTF-8"),
        ([(b"x-teamgate-tags", b"feature=\xc3\xa9")], "the value of tag 'feature'"),
    ],
)
def test_header_faults(headers: list[tuple[bytes, bytes]], says: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        from_headers(headers)
    assert err.value.code == "invalid_attribution" and says in err.value.message


def test_headers_and_body_user() -> None:
    got = from_headers([(b"x-teamgate-user", "Zoë".encode()), (b"other", b"x")])
    assert got == Attribution("Zoë", "")
    assert with_body_user(got, "body-user") == got  # the header wins
    assert with_body_user(Attribution("", "f=x"), "body-user") == Attribution("body-user", "f=x")
    assert with_body_user(Attribution(), None) == Attribution()
    with pytest.raises(InvalidRequest, match="must be a string"):
        with_body_user(got, ["not", "a", "string"])  # checked even when the header wins
