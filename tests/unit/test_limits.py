"""HTTP limit settings and the JSON depth bound shared by the management APIs."""

from __future__ import annotations

import orjson
import pytest

from mainflux.core.config import ConfigError
from mainflux.core.errors import MalformedEntity
from mainflux.core.limits import (
    MAX_JSON_DEPTH,
    HttpLimits,
    check_json_depth,
    json_depth_exceeds,
    max_body_from_env,
)


def nested(depth: int) -> object:
    """``depth`` levels of alternating objects and arrays."""
    opening = "".join('{"a":' if level % 2 == 0 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    return orjson.loads(opening + "1" + closing)


@pytest.mark.parametrize(
    ("depth", "deeper"),
    [(0, False), (1, False), (MAX_JSON_DEPTH, False), (MAX_JSON_DEPTH + 1, True), (1000, True)],
)
def test_depth_is_counted_in_containers(depth: int, deeper: bool) -> None:
    assert json_depth_exceeds(nested(depth), MAX_JSON_DEPTH) is deeper


def test_a_wide_value_is_not_deep() -> None:
    assert not json_depth_exceeds({str(i): [i, {"x": i}] for i in range(10_000)}, 3)


def test_the_check_names_the_field_and_the_bound() -> None:
    with pytest.raises(MalformedEntity, match=f"metadata nests deeper than {MAX_JSON_DEPTH}"):
        check_json_depth(nested(MAX_JSON_DEPTH + 1))
    check_json_depth(nested(MAX_JSON_DEPTH))


def test_limits_are_read_from_the_environment() -> None:
    limits = HttpLimits.from_env(
        {
            "MF_HTTP_MAX_HEADER_BYTES": "8192",
            "MF_HTTP_MAX_HEADERS": "50",
            "MF_HTTP_REQUEST_TIMEOUT": "2.5",
            "MF_HTTP_IDLE_TIMEOUT": "1",
            "MF_HTTP_MAX_CONNECTIONS": "300",
            "MF_WS_MAX_FRAME": "4096",
        }
    )
    assert limits == HttpLimits(8192, 50, 2.5, 1.0, 300, 4096)
    assert HttpLimits.from_env({}) == HttpLimits()
    assert max_body_from_env({}) == 1 << 20
    assert max_body_from_env({"MF_HTTP_MAX_BODY": "10"}) == 10


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MF_HTTP_MAX_CONNECTIONS", "many"),
        ("MF_HTTP_MAX_CONNECTIONS", "0"),
        ("MF_HTTP_REQUEST_TIMEOUT", "0"),
        ("MF_HTTP_IDLE_TIMEOUT", "soon"),
        ("MF_HTTP_MAX_HEADER_BYTES", "100"),
        ("MF_HTTP_MAX_HEADERS", "-1"),
        ("MF_WS_MAX_FRAME", "1MB"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        HttpLimits.from_env({name: value})


def test_a_bad_body_bound_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="MF_HTTP_MAX_BODY"):
        max_body_from_env({"MF_HTTP_MAX_BODY": "0"})
