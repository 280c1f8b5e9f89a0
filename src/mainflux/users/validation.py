"""Rules for emails and passwords, as Mainflux's users service applies them.

An email has exactly one ``@``; the local part is 1-64 characters from RFC 5322's atom
set with no leading, trailing or doubled dot; the host has a dot, no empty label, at
most 255 characters and a top-level label of at most 24. Both parts are IDNA-encoded
first, so UTF-8 addresses are accepted. Emails are compared in lower case
(:func:`normalize_email`). Passwords have at least 8 characters, and a new password at
most 72 bytes in UTF-8: bcrypt ignores whatever follows, so a longer one is refused
rather than silently cut."""

from __future__ import annotations

import re
from encodings import idna
from typing import Final

MIN_PASSWORD_LENGTH: Final = 8
#: bcrypt uses the first 72 bytes of a password and ignores the rest.
MAX_PASSWORD_BYTES: Final = 72
#: The ``users.email`` column is ``VARCHAR(254)``.
MAX_EMAIL_LENGTH: Final = 254
MAX_LOCAL_LENGTH: Final = 64
MAX_DOMAIN_LENGTH: Final = 255
MAX_TLD_LENGTH: Final = 24

_LOCAL: Final = re.compile(r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+")
_LABEL: Final = re.compile(r"[a-zA-Z0-9_-]{1,63}")


def _ascii_label(label: str) -> str | None:
    """``label`` as ASCII (punycode for non-ASCII), or ``None`` when it cannot be."""
    if label.isascii():
        return label
    try:
        return idna.ToASCII(label).decode("ascii")
    except UnicodeError:
        return None


def _valid_local(local: str) -> bool:
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    parts = [_ascii_label(part) for part in local.split(".")]
    if any(part is None for part in parts):
        return False
    ascii_local = ".".join(p for p in parts if p is not None)
    return len(ascii_local) <= MAX_LOCAL_LENGTH and _LOCAL.fullmatch(ascii_local) is not None


def _valid_host(host: str) -> bool:
    labels = host.split(".")
    if len(labels) < 2:
        return False
    ascii_labels = [_ascii_label(label) for label in labels]
    if any(label is None or _LABEL.fullmatch(label) is None for label in ascii_labels):
        return False
    ascii_host = ".".join(label for label in ascii_labels if label is not None)
    return len(ascii_host) <= MAX_DOMAIN_LENGTH and len(labels[-1]) <= MAX_TLD_LENGTH


def is_email(value: object) -> bool:
    """Whether ``value`` is an email address the users service accepts."""
    if not isinstance(value, str) or len(value) > MAX_EMAIL_LENGTH or value.count("@") != 1:
        return False
    local, host = value.split("@")
    return _valid_local(local) and _valid_host(host)


def is_password(value: object) -> bool:
    """Whether ``value`` is an acceptable new password (a string of 8+ characters)."""
    return isinstance(value, str) and len(value) >= MIN_PASSWORD_LENGTH


def password_bytes(password: str) -> bytes:
    """``password`` as the bytes bcrypt hashes (UTF-8; lone surrogates kept as is)."""
    return password.encode("utf-8", "surrogatepass")


def fits_bcrypt(password: str) -> bool:
    """Whether every byte of ``password`` counts in a bcrypt hash (at most 72)."""
    return len(password_bytes(password)) <= MAX_PASSWORD_BYTES


def normalize_email(email: str) -> str:
    """The form in which emails are stored and looked up: lower case."""
    return email.lower()
