"""JSON containment with PostgreSQL's JSONB ``@>`` semantics (used on SQLite)."""

from __future__ import annotations

from typing import Any

import pytest

from mainflux.things.store import json_contains

CASES: list[tuple[str, Any, Any, bool]] = [
    ("empty-pattern", {"a": 1}, {}, True),
    ("same-key", {"a": 1, "b": 2}, {"a": 1}, True),
    ("other-value", {"a": 1}, {"a": 2}, False),
    ("missing-key", {"a": 1}, {"b": 1}, False),
    ("nested-object", {"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, True),
    ("array-subset", {"t": ["x", "y", "z"]}, {"t": ["z", "x"]}, True),
    ("array-not-subset", {"t": ["x"]}, {"t": ["x", "q"]}, False),
    ("array-vs-scalar", {"t": ["x"]}, {"t": "x"}, False),
    ("objects-in-array", {"t": [{"a": 1, "b": 2}]}, {"t": [{"a": 1}]}, True),
    ("int-equals-float", {"n": 1}, {"n": 1.0}, True),
    ("bool-is-not-number", {"n": 1}, {"n": True}, False),
    ("number-is-not-bool", {"n": False}, {"n": 0}, False),
    ("null-equals-null", {"n": None}, {"n": None}, True),
    ("string-is-not-number", {"n": "1"}, {"n": 1}, False),
]


@pytest.mark.parametrize(
    ("document", "pattern", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_containment_matches_jsonb(document: Any, pattern: Any, expected: bool) -> None:
    assert json_contains(document, pattern) is expected
