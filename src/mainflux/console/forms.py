"""Checks of what people type into the console's forms, each failure tied to its field.

Pure functions: a :class:`FieldError` names the form field that caused it, so the page
shows the message next to that field."""

from __future__ import annotations

import csv
import io
from typing import Any, Final

import orjson

from mainflux.core.errors import MalformedEntity
from mainflux.core.limits import check_json_depth

#: Longest name the things service accepts.
MAX_NAME: Final = 1024
#: Largest metadata text, in bytes.
MAX_METADATA: Final = 64 * 1024
#: Largest CSV upload, in bytes, and most rows (the things service's bulk cap).
MAX_CSV_BYTES: Final = 256 * 1024
MAX_CSV_ROWS: Final = 100


class FieldError(Exception):
    """A form field's value is wrong: ``field`` and the ``message`` to show next to it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def name(value: str, field: str = "name") -> str:
    """A thing's or channel's name, trimmed; at most :data:`MAX_NAME` characters."""
    value = value.strip()
    if len(value) > MAX_NAME:
        raise FieldError(field, f"at most {MAX_NAME} characters")
    return value


def metadata(text: str, field: str = "metadata") -> dict[str, Any] | None:
    """Metadata typed as JSON: empty means none, otherwise a JSON object."""
    text = text.strip()
    if not text:
        return None
    if len(text.encode()) > MAX_METADATA:
        raise FieldError(field, f"at most {MAX_METADATA} bytes")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FieldError(field, f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise FieldError(field, 'must be a JSON object, like {"room": "kitchen"}')
    try:
        check_json_depth(value)
    except MalformedEntity as exc:
        raise FieldError(field, str(exc).removeprefix("metadata ")) from None
    return value


def csv_entities(data: bytes, field: str = "file") -> list[dict[str, Any]]:
    """Things or channels from a CSV file: one per row, ``name[,metadata JSON]``.

    A first row ``name,metadata`` is a header and skipped; blank rows are skipped."""
    if len(data) > MAX_CSV_BYTES:
        raise FieldError(field, f"the file is larger than {MAX_CSV_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FieldError(field, "the file is not UTF-8 text") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise FieldError(field, f"not valid CSV: {exc}") from None
    if rows and [c.strip().lower() for c in rows[0]][:2] in (["name"], ["name", "metadata"]):
        rows = rows[1:]
    specs: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > 2:
            raise FieldError(
                field, f"row {number}: expected name[,metadata], got {len(row)} columns"
            )
        try:
            spec: dict[str, Any] = {"name": name(row[0])}
            meta = metadata(row[1]) if len(row) == 2 else None
        except FieldError as exc:
            raise FieldError(field, f"row {number}: {exc.field} {exc.message}") from None
        if meta is not None:
            spec["metadata"] = meta
        specs.append(spec)
    if not specs:
        raise FieldError(field, "the file has no rows")
    if len(specs) > MAX_CSV_ROWS:
        raise FieldError(field, f"at most {MAX_CSV_ROWS} rows per file")
    return specs


def password(value: str, field: str = "password") -> str:
    """A non-empty password."""
    if not value:
        raise FieldError(field, "required")
    return value


def email(value: str, field: str = "email") -> str:
    """An address with an ``@``, trimmed."""
    value = value.strip()
    if "@" not in value or len(value) > 254:
        raise FieldError(field, "enter an e-mail address")
    return value


def duration(value: str, field: str = "duration") -> int | None:
    """An API key's lifetime in seconds (empty: no expiry)."""
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) <= 0:
        raise FieldError(field, "a whole number of seconds above 0")
    return int(value)


#: Largest bootstrap content, in bytes.
MAX_CONTENT: Final = 64 * 1024


def required(value: str, field: str) -> str:
    """A non-empty value, trimmed, at most :data:`MAX_NAME` characters."""
    value = value.strip()
    if not value:
        raise FieldError(field, "required")
    if len(value) > MAX_NAME:
        raise FieldError(field, f"at most {MAX_NAME} characters")
    return value


def content(value: str, field: str = "content") -> str:
    """A bootstrap config's content: any text of at most :data:`MAX_CONTENT` bytes."""
    if len(value.encode()) > MAX_CONTENT:
        raise FieldError(field, f"at most {MAX_CONTENT // 1024} KiB")
    return value


def state(value: str, field: str = "state") -> int:
    """A config's state: ``1`` (whitelisted, connected) or ``0``."""
    if value not in ("0", "1"):
        raise FieldError(field, "must be 0 or 1")
    return int(value)
