"""What a writer hands its store: rows keyed by ids derived from their message.

Every row's ``id`` comes from the message that carried it (:func:`record_ids`), so
storing the same message twice (a redelivery after a crash) inserts nothing the
second time, whatever the engine."""

from __future__ import annotations

import hashlib
import uuid

from mainflux.messaging.envelope import Message
from mainflux.transformers.json import JSONMessage
from mainflux.transformers.senml import SenMLRecord

#: A SenML record and its id.
SenMLRow = tuple[uuid.UUID, SenMLRecord]
#: A plain JSON object and its id.
JSONRow = tuple[uuid.UUID, JSONMessage]

try:  # asyncpg's UUID: the type it decodes uuid columns to, built in C (10x uuid.UUID)
    from asyncpg.pgproto.pgproto import UUID as _FastUUID
except ImportError:  # pragma: no cover - other asyncpg builds
    _FastUUID = None


def record_ids(msg: Message, count: int) -> list[uuid.UUID]:
    """Stable ids for the ``count`` records of ``msg``.

    Derived (SHA-1, UUID version 5 layout) from the channel, subtopic, publisher,
    protocol, creation time, payload and the record's position, so a redelivered
    message maps onto the rows it already has."""
    head = (
        f"{msg.channel}\x00{msg.subtopic}\x00{msg.publisher}\x00{msg.protocol}\x00{msg.created}\x00"
    )
    data = head.encode() + msg.payload
    if count == 1:  # the common case: one hash, no copy
        return [_uuid5_layout(hashlib.sha1(data + b"\x00\x00\x00\x00").digest())]
    base = hashlib.sha1(data)
    ids = []
    for index in range(count):
        digest = base.copy()
        digest.update(index.to_bytes(4, "big"))
        ids.append(_uuid5_layout(digest.digest()))
    return ids


def _uuid5_layout(digest: bytes) -> uuid.UUID:
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    if _FastUUID is not None:
        return _FastUUID(bytes(raw))
    return uuid.UUID(bytes=bytes(raw))
