"""The shared query parser: only plain ASCII decimals within bounds get through."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from mainflux.core.errors import MalformedEntity
from mainflux.core.query import MAX_OFFSET, query_float, query_int, query_page


def request(query: str) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "headers": []})


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("", (0, 10)),
        ("offset=&limit=", (0, 10)),
        ("offset=5&limit=100", (5, 100)),
        ("limit=007", (0, 7)),
        (f"offset={MAX_OFFSET}", (MAX_OFFSET, 10)),
    ],
    ids=["defaults", "empty values", "bounds", "leading zeros", "largest offset"],
)
def test_good_pages_are_read(query: str, page: tuple[int, int]) -> None:
    assert query_page(request(query), 10, 100) == page


BAD_PAGES = [
    ("superscript two", "limit=%C2%B2"),
    ("arabic-indic digits", "limit=%D9%A3"),
    ("fullwidth digits", "offset=%EF%BC%91"),
    ("five thousand digits", "offset=" + "9" * 5000),
    ("five thousand digit limit", "limit=" + "1" * 5000),
    ("negative", "offset=-1"),
    ("plus sign", "limit=%2B5"),
    ("spaces", "limit=%205"),
    ("underscore", "limit=1_0"),
    ("limit zero", "limit=0"),
    ("limit over the maximum", "limit=101"),
    ("offset past a signed 64-bit integer", f"offset={MAX_OFFSET + 1}"),
    ("decimal", "limit=1.5"),
    ("repeated", "limit=1&limit=2"),
]


@pytest.mark.parametrize("query", [q for _, q in BAD_PAGES], ids=[n for n, _ in BAD_PAGES])
def test_bad_pages_are_malformed_naming_the_key(query: str) -> None:
    key = query.split("=", 1)[0]
    with pytest.raises(MalformedEntity, match=key):
        query_page(request(query), 10, 100)


def test_a_bound_is_named_in_the_message() -> None:
    with pytest.raises(MalformedEntity, match="from 1 to 100"):
        query_int(request("limit=500"), "limit", 10, 1, 100)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", 1.0), ("-2.5", -2.5), ("1e3", 1000.0), (".5", 0.5), ("3.", 3.0), ("", None)],
)
def test_good_numbers_are_read(raw: str, value: float | None) -> None:
    assert query_float(request(f"v={raw}"), "v") == value


@pytest.mark.parametrize(
    "raw",
    ["inf", "nan", "1e99999", "%C2%B2", "%D9%A3", "1_0", "%201", "0x10", "1" * 5000, "1e"],
)
def test_bad_numbers_are_malformed(raw: str) -> None:
    with pytest.raises(MalformedEntity, match="'v'"):
        query_float(request(f"v={raw}"), "v")
