"""SenML validation and normalization, one case per rule of the compatibility reference."""

from __future__ import annotations

import base64
from typing import Any

import cbor2
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainflux.messaging.envelope import Message
from mainflux.transformers import TransformerError, senml

CREATED = 1_700_000_000_123_456_789


def message(payload: bytes) -> Message:
    return Message("chan", "a.b", "thing", "http", payload, CREATED)


def transform(pack: Any) -> list[senml.SenMLRecord]:
    return senml.transform_json(message(orjson.dumps(pack)))


VALID = [
    (
        "checklist row 24: base name, time and unit carry forward",
        [{"bn": "dev:", "bt": 1.6e9, "bu": "A", "n": "i", "v": 1}, {"n": "j", "t": 1, "v": 2}],
        [("dev:i", "A", 1.6e9, 1.0), ("dev:j", "A", 1.6e9 + 1, 2.0)],
    ),
    (
        "effective name is base name plus name",
        [{"bn": "urn:dev:", "n": "temp", "v": 20}],
        [("urn:dev:temp", "", CREATED / 1e9, 20.0)],
    ),
    (
        "a name alone is enough",
        [{"n": "temp", "v": 20, "t": 5}],
        [("temp", "", 5.0, 20.0)],
    ),
    (
        "a base name alone is enough",
        [{"bn": "temp", "v": 20, "t": 5}],
        [("temp", "", 5.0, 20.0)],
    ),
    (
        "a later bn replaces the earlier one",
        [{"bn": "a:", "n": "x", "v": 1, "t": 1}, {"bn": "b:", "n": "x", "v": 2, "t": 2}],
        [("a:x", "", 1.0, 1.0), ("b:x", "", 2.0, 2.0)],
    ),
    (
        "an empty bn does not clear the base name",
        [{"bn": "a:", "n": "x", "v": 1, "t": 1}, {"bn": "", "n": "y", "v": 2, "t": 2}],
        [("a:x", "", 1.0, 1.0), ("a:y", "", 2.0, 2.0)],
    ),
    (
        "the record's own unit wins over bu",
        [{"bu": "A", "n": "x", "u": "V", "v": 1, "t": 1}],
        [("x", "V", 1.0, 1.0)],
    ),
    (
        "bv is added to v of its own record only",
        [{"bv": 10, "n": "x", "v": 1, "t": 1}, {"n": "y", "v": 2, "t": 2}],
        [("x", "", 1.0, 11.0), ("y", "", 2.0, 2.0)],
    ),
    (
        "records are sorted by time",
        [{"n": "late", "v": 1, "t": 9}, {"n": "early", "v": 2, "t": 3}],
        [("early", "", 3.0, 2.0), ("late", "", 9.0, 1.0)],
    ),
    (
        "relative times are kept relative",
        [{"n": "x", "v": 1, "t": -5}],
        [("x", "", -5.0, 1.0)],
    ),
    (
        "time 0 becomes the reception time in seconds",
        [{"n": "x", "v": 1}],
        [("x", "", CREATED / 1e9, 1.0)],
    ),
    (
        "the l (links) key and unknown keys are ignored",
        [{"n": "x", "v": 1, "t": 1, "l": "[]", "zz": 3}],
        [("x", "", 1.0, 1.0)],
    ),
    (
        "the same bver on every record is fine",
        [{"bver": 10, "n": "x", "v": 1, "t": 1}, {"bver": 10, "n": "y", "v": 1, "t": 2}],
        [("x", "", 1.0, 1.0), ("y", "", 2.0, 1.0)],
    ),
    (
        "an empty pack has no records",
        [],
        [],
    ),
]


@pytest.mark.parametrize(("pack", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_valid_packs_normalize(pack: Any, expected: list[tuple[str, str, float, float]]) -> None:
    records = transform(pack)
    assert [(r.name, r.unit, r.time, r.value) for r in records] == expected
    assert all(
        (r.channel, r.subtopic, r.publisher, r.protocol) == ("chan", "a.b", "thing", "http")
        for r in records
    )


def test_each_value_kind_is_kept_in_its_own_field() -> None:
    records = transform(
        [
            {"n": "s", "vs": "on", "t": 1},
            {"n": "b", "vb": False, "t": 2},
            {"n": "d", "vd": "aGk", "t": 3},
            {"n": "sum", "s": 4.5, "t": 4, "ut": 7},
        ]
    )
    assert [(r.string_value, r.bool_value, r.data_value, r.sum) for r in records] == [
        ("on", None, None, None),
        (None, False, None, None),
        (None, None, "aGk", None),
        (None, None, None, 4.5),
    ]
    assert records[3].update_time == 7.0


def test_bs_is_added_to_sums_and_carries_forward() -> None:
    records = transform(
        [{"bs": 10, "n": "a", "s": 1, "t": 1}, {"n": "b", "s": 2, "t": 2}, {"n": "c", "t": 3}]
    )
    assert [r.sum for r in records] == [11.0, 12.0, None]


def test_bt_carries_forward_and_adds_to_t() -> None:
    records = transform([{"bt": 100, "n": "a", "v": 1}, {"n": "b", "v": 1, "t": 2}])
    assert [r.time for r in records] == [100.0, 102.0]


INVALID = [
    ("not an array", {"n": "x", "v": 1}, "malformed"),
    ("not JSON", None, "malformed"),
    ("a record is not an object", [1], "malformed"),
    ("v is not a number", [{"n": "x", "v": "1"}], "malformed"),
    ("vb is not a boolean", [{"n": "x", "vb": 1}], "malformed"),
    ("checklist row 24: no name", [{"v": 1}], "empty_name"),
    ("empty name and base name", [{"bn": "", "n": "", "v": 1}], "empty_name"),
    ("name starts with a dash", [{"n": "-x", "v": 1}], "bad_name"),
    ("name starts with a colon", [{"n": ":x", "v": 1}], "bad_name"),
    ("name starts with a dot", [{"n": ".x", "v": 1}], "bad_name"),
    ("name starts with a slash", [{"n": "/x", "v": 1}], "bad_name"),
    ("name starts with an underscore", [{"n": "_x", "v": 1}], "bad_name"),
    ("name has a space", [{"n": "a b", "v": 1}], "bad_name"),
    ("name has a non-ASCII letter", [{"n": "tempé", "v": 1}], "bad_name"),
    ("two values", [{"n": "x", "v": 1, "vs": "a"}], "too_many_values"),
    ("three values", [{"n": "x", "vb": True, "vd": "a", "vs": "a"}], "too_many_values"),
    ("no value, no sum", [{"n": "x"}], "no_value"),
    (
        "bver changes",
        [{"bver": 10, "n": "x", "v": 1}, {"bver": 11, "n": "y", "v": 1}],
        "version_change",
    ),
    ("negative bver", [{"bver": -1, "n": "x", "v": 1}], "bad_value"),
    ("a later record is invalid", [{"n": "x", "v": 1}, {"n": "y"}], "no_value"),
]


@pytest.mark.parametrize(("pack", "cause"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_packs_are_refused(pack: Any, cause: str) -> None:
    payload = b"[{not json" if pack is None else orjson.dumps(pack)
    with pytest.raises(TransformerError) as err:
        senml.transform_json(message(payload))
    assert err.value.cause == cause


def test_a_non_zero_bs_in_effect_counts_as_a_value() -> None:
    records = transform([{"bs": 1, "n": "x", "s": 1, "t": 1}, {"n": "y", "t": 2}])
    assert [r.name for r in records] == ["x", "y"]


def test_huge_numbers_are_refused() -> None:
    with pytest.raises(TransformerError):
        senml.transform_json(message(b'[{"n":"x","v":1e400}]'))


def test_cbor_uses_integer_keys() -> None:
    pack = [{-2: "dev:", -3: 1.6e9, -4: "A", 0: "i", 2: 1}, {0: "j", 6: 1, 4: True}]
    records = senml.transform_cbor(message(cbor2.dumps(pack)))
    assert [(r.name, r.unit, r.time, r.value, r.bool_value) for r in records] == [
        ("dev:i", "A", 1.6e9, 1.0, None),
        ("dev:j", "A", 1.6e9 + 1, None, True),
    ]


def test_cbor_byte_string_data_is_base64url_text() -> None:
    records = senml.transform_cbor(message(cbor2.dumps([{0: "d", 8: b"hi?", 6: 1}])))
    assert records[0].data_value == base64.urlsafe_b64encode(b"hi?").rstrip(b"=").decode()


CBOR_INVALID = [
    ("not CBOR", b"\xff\xff\xff"),
    ("not an array", cbor2.dumps({0: "x", 2: 1})),
    ("a record is not a map", cbor2.dumps([1])),
    ("name is not text", cbor2.dumps([{0: 5, 2: 1}])),
    ("value is not a number", cbor2.dumps([{0: "x", 2: "1"}])),
    ("value is a boolean", cbor2.dumps([{0: "x", 2: True}])),
    ("no name", cbor2.dumps([{2: 1}])),
    ("truncated", cbor2.dumps([{0: "x", 2: 1}])[:-1]),
]


@pytest.mark.parametrize("payload", [c[1] for c in CBOR_INVALID], ids=[c[0] for c in CBOR_INVALID])
def test_invalid_cbor_is_refused(payload: bytes) -> None:
    with pytest.raises(TransformerError):
        senml.transform_cbor(message(payload))


def test_unknown_content_type_means_json() -> None:
    assert senml.transformer("text/plain") is senml.transform_json
    assert senml.transformer(senml.CBOR) is senml.transform_cbor


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_records_or_a_transformer_error(payload: bytes) -> None:
    for transform_fn in (senml.transform_json, senml.transform_cbor):
        try:
            records = transform_fn(message(payload))
        except TransformerError as exc:
            assert exc.cause
        else:
            assert isinstance(records, list)


_json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "n",
                    "bn",
                    "v",
                    "vs",
                    "t",
                    "bt",
                    "s",
                    "bs",
                    "bver",
                    "vb",
                    "vd",
                    "u",
                    "bu",
                    "ut",
                    "bv",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_any_json_document_gives_records_or_a_transformer_error(doc: Any) -> None:
    try:
        payload = orjson.dumps(doc)
    except TypeError:
        return
    try:
        records = senml.transform_json(message(payload))
    except TransformerError as exc:
        assert exc.cause
    else:
        assert all(r.name for r in records)
