"""The plain JSON transformer: a JSON object, or an array of objects, stored with its fields.

Each object becomes one :class:`JSONMessage` carrying the envelope's metadata and the
object itself as ``payload``."""

from __future__ import annotations

from typing import Any, Final

import msgspec
import orjson

from mainflux.messaging.envelope import Message
from mainflux.transformers.errors import TransformerError

CONTENT_TYPE: Final = "application/json"


class JSONMessage(msgspec.Struct, gc=False):
    """One stored JSON object with the metadata of the message that carried it."""

    channel: str
    subtopic: str
    publisher: str
    protocol: str
    created: int
    payload: dict[str, Any]


def transform(msg: Message) -> list[JSONMessage]:
    """Turn a JSON object or an array of objects into messages to store.

    Raises :class:`TransformerError` for anything else (an empty array gives none)."""
    try:
        data = orjson.loads(msg.payload)
    except orjson.JSONDecodeError as exc:
        raise TransformerError("malformed", f"not JSON: {exc}") from None
    objects = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in objects):
        raise TransformerError("not_object", "JSON payload must be an object or array of objects")
    return [
        JSONMessage(msg.channel, msg.subtopic, msg.publisher, msg.protocol, msg.created, item)
        for item in objects
    ]
