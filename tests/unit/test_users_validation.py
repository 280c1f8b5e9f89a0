"""Email and password rules of the users service."""

from __future__ import annotations

import pytest

from mainflux.users.validation import fits_bcrypt, is_email, is_password, normalize_email

VALID = [
    "a@b.com",
    "first.last@sub.example.co.uk",
    "o'neil+tag@ex-ample.org",
    "x" * 64 + "@example.com",
    "ü@bücher.de",
    "用户@例子.广告",
    "a@" + "b" * 63 + ".com",
]
INVALID = [
    "",
    "plain",
    "a@b",
    "a@@b.com",
    "a@b@c.com",
    ".a@b.com",
    "a.@b.com",
    "a..b@b.com",
    "a@.b.com",
    "a@b..com",
    "a@b.com.",
    "a b@c.com",
    "a@exa mple.com",
    "a(b)@c.com",
    "x" * 65 + "@example.com",
    "a@b." + "c" * 25,
    "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 60] * 5) + ".com",
    "a" * 64 + "@" + ("b" * 60 + ".") * 3 + "c" * 20 + ".com",
]


@pytest.mark.parametrize("email", VALID)
def test_valid_emails_are_accepted(email: str) -> None:
    assert is_email(email)


@pytest.mark.parametrize("email", INVALID)
def test_invalid_emails_are_refused(email: str) -> None:
    assert not is_email(email)


@pytest.mark.parametrize("value", [None, 5, ["a@b.com"]], ids=["none", "int", "list"])
def test_non_strings_are_neither_emails_nor_passwords(value: object) -> None:
    assert not is_email(value)
    assert not is_password(value)


def test_passwords_need_eight_characters() -> None:
    assert is_password("12345678")
    assert is_password("pässwörd")
    assert not is_password("1234567")


@pytest.mark.parametrize(
    ("password", "fits"),
    [("p" * 72, True), ("p" * 73, False), ("é" * 36, True), ("é" * 36 + "p", False)],
    ids=["72 ascii", "73 ascii", "72 bytes of é", "73 bytes"],
)
def test_passwords_fit_bcrypt_by_their_utf8_bytes(password: str, fits: bool) -> None:
    assert fits_bcrypt(password) is fits


def test_emails_are_normalized_to_lower_case() -> None:
    assert normalize_email("Alice@Example.COM") == "alice@example.com"
    assert normalize_email("Ünal@Bücher.DE") == "ünal@bücher.de"
