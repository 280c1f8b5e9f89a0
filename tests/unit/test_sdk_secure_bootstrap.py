"""Secure bootstrap's answer reading in the SDK: the request carries the external key
encrypted, and an answer that does not decrypt to a JSON object is ``UnexpectedBody``
(the answers come from :mod:`mainflux.bootstrap.crypto`, as the service makes them)."""

from __future__ import annotations

import httpx
import pytest

from mainflux.bootstrap import crypto
from mainflux.sdk.calls import Api, UnexpectedBody
from mainflux.sdk.config import Config

KEY = bytes.fromhex("12345678910111213141516171819202")
OTHER = bytes.fromhex("ab" * 16)


def _call(key: bytes = KEY):  # type: ignore[no-untyped-def]
    return Api(Config("http://mf.test")).bootstrap("dev/1", "s3cret", secure_key=key)


def test_the_request_carries_the_key_encrypted_with_a_fresh_iv() -> None:
    first, second = _call(), _call()
    assert first.url == "http://mf.test/things/bootstrap/secure/dev%2F1"
    assert first.headers["Authorization"] != second.headers["Authorization"]
    for call in (first, second):
        sent = bytes.fromhex(call.headers["Authorization"])
        assert crypto.decrypt(KEY, sent) == b"s3cret"


def test_an_answer_is_decrypted() -> None:
    body = b'{"mainflux_id":"t","mainflux_key":"k","mainflux_channels":[],"content":"c"}\n'
    config = _call().parse(httpx.Response(200, content=crypto.encrypt(KEY, body)))
    assert (config.mainflux_id, config.mainflux_key, config.content) == ("t", "k", "c")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"short", "shorter than its IV"),
        (crypto.encrypt(OTHER, b'{"mainflux_id": "t"}'), "is secure_key the service's key"),
        (crypto.encrypt(KEY, b"[1, 2]"), "not a JSON object"),
        (b"\x00" * 10_000, "does not decrypt to JSON"),
    ],
    ids=["short", "another key", "not an object", "zeros"],  # stable across test processes
)
def test_an_answer_that_does_not_decrypt_is_unexpected(content: bytes, message: str) -> None:
    with pytest.raises(UnexpectedBody, match=message):
        _call().parse(httpx.Response(200, content=content))
