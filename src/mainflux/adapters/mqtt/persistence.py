"""What the broker keeps across a restart, and the port of the store that keeps it.

Stored: every persistent session (clean session 0, or a version 5 session expiry
interval above 0) with its subscriptions and its QoS 1/2 messages not yet acknowledged
by the subscriber (queued or in flight), and the retained messages. Not stored: clean
sessions, QoS 0 messages, delayed wills, and the QoS 2 messages a publisher has not
released yet (it sends PUBREL again; the broker answers PUBCOMP).

The broker records changes as :data:`Op` values in a
:class:`~mainflux.adapters.mqtt.journal.Journal`, which hands them to a
:class:`StateStore` in batches; :mod:`~mainflux.adapters.mqtt.restore` reads them back
at start. Implementations: :mod:`~mainflux.adapters.mqtt.state_sql` (SQLite or
PostgreSQL) and :mod:`~mainflux.adapters.mqtt.state_redis`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import msgspec

from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.codec5 import Publish5


class SaveSession(NamedTuple):
    """A persistent session exists: ``expiry`` seconds kept when away (``None``: for
    ever); ``expires_at`` the wall-clock time it ends while away (``None``: it is live)."""

    owner: str
    client_id: str
    expiry: int | None
    expires_at: float | None


class DropSession(NamedTuple):
    """The session, its subscriptions and its messages are gone."""

    owner: str
    client_id: str


class Subscribe(NamedTuple):
    """A subscription of a session (``options``: the broker's option bits)."""

    owner: str
    client_id: str
    topic_filter: str
    qos: int
    options: int


class Unsubscribe(NamedTuple):
    """A subscription went."""

    owner: str
    client_id: str
    topic_filter: str


class Enqueue(NamedTuple):
    """A QoS 1/2 message for a session (``record``: :func:`encode_message`)."""

    owner: str
    client_id: str
    seq: int
    record: bytes


class Dequeue(NamedTuple):
    """The subscriber acknowledged (or the broker dropped) message ``seq``."""

    owner: str
    client_id: str
    seq: int


class Retain(NamedTuple):
    """The retained message of ``topic`` (``record`` ``None``: cleared)."""

    topic: str
    record: bytes | None


Op = SaveSession | DropSession | Subscribe | Unsubscribe | Enqueue | Dequeue | Retain


@dataclass
class StoredSession:
    """One persistent session as read back."""

    owner: str
    client_id: str
    expiry: int | None
    expires_at: float | None
    subscriptions: dict[str, tuple[int, int]] = field(default_factory=dict)
    queued: list[tuple[int, bytes]] = field(default_factory=list)  # (seq, record), in order


@dataclass
class StoredState:
    """Everything a store holds."""

    sessions: list[StoredSession] = field(default_factory=list)
    retained: list[tuple[str, bytes]] = field(default_factory=list)


class StateStore(Protocol):
    """Where the broker's state survives a restart."""

    async def load(self) -> StoredState:
        """Read everything back (rows that cannot be read are left to the caller)."""
        ...

    async def apply(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` in order, all or none; raises when the store is unreachable."""
        ...

    async def ping(self) -> None:
        """Return when the store answers; raise when it does not (``/health``)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class BadRecord(ValueError):
    """A stored message that cannot be decoded."""


_Record = tuple[str, bytes, int, bool, bytes | None, float]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_Record)


def encode_message(message: Publish, qos: int, retain: bool) -> bytes:
    """``message`` as stored: topic, payload, QoS, retain, and for version 5 its
    properties and its expiry as a wall-clock time (0: none)."""
    properties: bytes | None = None
    deadline = 0.0
    if message.__class__ is Publish5:
        properties = message.properties  # type: ignore[attr-defined]
        expires_at = message.expires_at  # type: ignore[attr-defined]
        if expires_at:
            deadline = time.time() + (expires_at - time.monotonic())
    return _encoder.encode(
        (message.topic, bytes(message.payload), qos, retain, properties, deadline)
    )


def decode_message(record: bytes) -> tuple[Publish, int, bool]:
    """``(message, qos, retain)`` back from :func:`encode_message`; raises
    :class:`BadRecord` when ``record`` is not one."""
    try:
        topic, payload, qos, retain, properties, deadline = _decoder.decode(record)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadRecord(str(exc)) from None
    if qos not in (0, 1, 2) or not topic:
        raise BadRecord(f"bad QoS {qos} or empty topic")
    if properties is None:
        return Publish(topic, payload, qos, retain), qos, retain
    expires_at = 0.0
    if deadline:  # a deadline already passed still counts as one (expired at once)
        expires_at = max(time.monotonic() + (deadline - time.time()), 1e-6)
    message = Publish5(topic, payload, qos, retain, properties=properties, expires_at=expires_at)
    return message, qos, retain
