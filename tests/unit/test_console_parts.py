"""The console's pure parts: form checks, CSV import, the chart, the commands, the feed."""

from __future__ import annotations

import re

import pytest

from mainflux.console import chart, forms
from mainflux.console.commands import Endpoints, commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("  ", None), ('{"a": 1}', {"a": 1}), (' {"a": {"b": [1]}} ', {"a": {"b": [1]}})],
    ids=["empty", "blank", "flat", "nested"],
)
def test_metadata_accepts_an_object_or_nothing(text: str, expected: object) -> None:
    assert forms.metadata(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("42", "must be a JSON object"),
        ('{"a":' * 33 + "1" + "}" * 33, "nests deeper than 32 levels"),
        ('{"a": "' + "x" * forms.MAX_METADATA + '"}', "at most"),
    ],
    ids=["truncated", "array", "null", "number", "deep", "large"],
)
def test_metadata_errors_name_the_field(text: str, message: str) -> None:
    with pytest.raises(forms.FieldError) as caught:
        forms.metadata(text)
    assert caught.value.field == "metadata" and message in caught.value.message


def test_csv_rows_become_specs_with_an_optional_header() -> None:
    data = b'\xef\xbb\xbfname,metadata\nlamp,"{""room"":""hall""}"\n\n  fan  \n'
    assert forms.csv_entities(data) == [
        {"name": "lamp", "metadata": {"room": "hall"}},
        {"name": "fan"},
    ]
    assert forms.csv_entities(b"only\n") == [{"name": "only"}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'a,"b\n', "not valid CSV"),
        (b"a,b,c\n", "row 1: expected name[,metadata], got 3 columns"),
        (b"a,{x\n", "row 1: metadata not valid JSON"),
        (b"ok\n" + b"n" * 1100 + b"\n", "row 2: name at most 1024 characters"),
        (b"\x80\x81", "not UTF-8"),
        (b"", "no rows"),
        (b"name\n", "no rows"),
        (b"r\n" * 101, "at most 100 rows"),
        (b"r" * (forms.MAX_CSV_BYTES + 1), "larger than"),
    ],
    ids=["quote", "columns", "json", "long-name", "binary", "empty", "header-only", "rows", "size"],
)
def test_bad_csv_is_one_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(forms.FieldError) as caught:
        forms.csv_entities(data)
    assert caught.value.field == "file" and message in caught.value.message


@pytest.mark.parametrize(
    ("check", "value", "field"),
    [
        (forms.email, "no-at-sign", "email"),
        (forms.password, "", "password"),
        (forms.duration, "-5", "duration"),
        (forms.duration, "1.5", "duration"),
        (forms.name, "x" * 1025, "name"),
    ],
    ids=["email", "password", "negative", "fraction", "name"],
)
def test_other_fields(check, value: str, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(forms.FieldError) as caught:
        check(value)
    assert caught.value.field == field


def test_the_chart_draws_numeric_values_per_name_in_time_order() -> None:
    messages = [
        {"name": "t", "time": 3.0, "value": 1.5},
        {"name": "t", "time": 1.0, "value": 0.5},
        {"name": "h", "time": 2.0, "value": 40},
        {"name": "s", "time": 2.0, "string_value": "on"},
        {"name": "b", "time": 2.0, "value": True},
        {"name": "n", "time": 2.0, "value": float("nan")},
    ]
    data = chart.series(messages)
    assert data == {"t": [(1.0, 0.5), (3.0, 1.5)], "h": [(2.0, 40.0)]}
    svg = chart.svg(data)
    assert svg.startswith("<svg") and svg.count("<circle") == 3 and svg.count("<polyline") == 2
    assert chart.svg({}) == ""


def test_the_chart_escapes_names_and_bounds_its_series() -> None:
    messages = [{"name": f"<s{i}>", "time": i, "value": i} for i in range(20)]
    svg = chart.svg(chart.series(messages))
    assert "<s0>" not in svg and "&lt;s0&gt;" in svg
    assert svg.count("<polyline") == chart.MAX_SERIES


def test_commands_carry_the_real_ids_key_and_ports() -> None:
    where = Endpoints("http://h:8080/http", "ws://h:8080/ws", "h", 1884, "coap://h:5683")
    made = commands(where, "thing-1", "key-1", "chan-1")
    assert set(made) == {"HTTP", "MQTT", "MQTT subscribe", "WebSocket", "CoAP"}
    assert "-p 1884 -u thing-1 -P key-1 -t channels/chan-1/messages" in made["MQTT"]
    assert " http://h:8080/http/channels/chan-1/messages " in made["HTTP"]
    assert "ws://h:8080/ws/channels/chan-1/messages?authorization=key-1" in made["WebSocket"]
    assert re.search(r"coap://h:5683/channels/chan-1/messages\?authorization=key-1", made["CoAP"])


def test_commands_quote_for_the_shell() -> None:
    where = Endpoints("http://h", "ws://h", "h", 1883, "coap://h")
    made = commands(where, "id", "it's; rm -rf", "c")
    assert "'it'\"'\"'s; rm -rf'" in made["MQTT"]
