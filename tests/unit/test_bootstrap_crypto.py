"""Secure bootstrap's AES-CFB is the standard full-block CFB (Go's ``cipher.NewCFB*``):
what we encrypt, OpenSSL decrypts, and the other way round."""

from __future__ import annotations

import subprocess

import pytest

from mainflux.bootstrap import crypto
from mainflux.core.errors import MalformedEntity, NotFound

KEY = bytes.fromhex("12345678910111213141516171819202")


def _openssl(mode: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = {16: "aes-128-cfb", 24: "aes-192-cfb", 32: "aes-256-cfb"}[len(key)]
    flag = "-d" if mode == "decrypt" else "-e"
    args = ["openssl", "enc", f"-{cipher}", flag, "-K", key.hex(), "-iv", iv.hex(), "-nopad"]
    return subprocess.run(args, input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize(
    "key", [KEY, bytes(range(24)), bytes(range(32))], ids=["128", "192", "256"]
)
def test_openssl_reads_what_we_encrypt(key: bytes) -> None:
    plain = b'{"mainflux_id":"t","mainflux_key":"k"}\n'
    sealed = crypto.encrypt(key, plain)
    assert _openssl("decrypt", key, sealed[:16], sealed[16:]) == plain


def test_we_read_what_openssl_encrypts() -> None:
    iv = bytes(range(16))
    sealed = iv + _openssl("encrypt", KEY, iv, b"external-key")
    assert crypto.decrypt_hex_key(KEY, sealed.hex()) == "external-key"


def test_each_encryption_has_a_fresh_iv() -> None:
    assert crypto.encrypt(KEY, b"x")[:16] != crypto.encrypt(KEY, b"x")[:16]


@pytest.mark.parametrize(
    ("header", "error"),
    [("zz", NotFound), ("0", NotFound), ("00" * 15, MalformedEntity), ("", MalformedEntity)],
    ids=["not hex", "odd length", "shorter than the iv", "empty"],
)
def test_a_bad_header_is_a_client_error(header: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        crypto.decrypt_hex_key(KEY, header)


@pytest.mark.parametrize(
    "value",
    ["", "xyz", "00" * 15, "00" * 17, "0" * 33],
    ids=["empty", "not hex", "15", "17", "odd"],
)
def test_a_bad_key_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        crypto.parse_key(value)
