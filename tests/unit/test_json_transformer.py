"""The plain JSON transformer: objects or arrays of objects, anything else refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainflux.messaging.envelope import Message
from mainflux.transformers import TransformerError
from mainflux.transformers import json as json_transformer


def message(payload: bytes) -> Message:
    return Message("chan", "x", "thing", "mqtt", payload, 42)


def test_an_object_is_one_message_with_its_fields() -> None:
    [msg] = json_transformer.transform(message(b'{"temp": 21.5, "tags": ["a"]}'))
    assert msg.payload == {"temp": 21.5, "tags": ["a"]}
    assert (msg.channel, msg.subtopic, msg.publisher, msg.protocol, msg.created) == (
        "chan",
        "x",
        "thing",
        "mqtt",
        42,
    )


def test_an_array_of_objects_is_one_message_each() -> None:
    msgs = json_transformer.transform(message(b'[{"a": 1}, {"b": 2}]'))
    assert [m.payload for m in msgs] == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        (b"not json", "malformed"),
        (b"", "malformed"),
        (b"42", "not_object"),
        (b'"text"', "not_object"),
        (b'[{"a": 1}, 2]', "not_object"),
        (b"[[]]", "not_object"),
    ],
    ids=["garbage", "empty", "number", "string", "mixed array", "nested array"],
)
def test_other_payloads_are_refused(payload: bytes, cause: str) -> None:
    with pytest.raises(TransformerError) as err:
        json_transformer.transform(message(payload))
    assert err.value.cause == cause


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_give_messages_or_a_transformer_error(payload: bytes) -> None:
    try:
        msgs = json_transformer.transform(message(payload))
    except TransformerError as exc:
        assert exc.cause
    else:
        assert all(isinstance(m.payload, dict) for m in msgs)
