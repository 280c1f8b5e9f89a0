"""The broker's state in Redis (``mainflux-mqtt``'s default: the Redis it already uses).

Hashes under ``<prefix>`` (by default ``mainflux.mqtt.state.<instance>:``, so
instances of the adapter sharing one Redis keep apart):

- ``sessions``: ``[owner, client id]`` (JSON) -> ``(expiry, expires at)``;
- ``subs:<session>``: topic filter -> ``(QoS, options)``;
- ``queue:<session>``: message number -> stored message;
- ``retained``: topic -> stored message.

A batch of changes is one ``MULTI``/``EXEC`` transaction. How much survives a crash of
Redis itself is Redis's persistence setting (``appendonly yes``, ``appendfsync``); a
crash of the broker loses nothing Redis acknowledged."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import orjson
import redis.asyncio as aioredis

from mainflux.adapters.mqtt.persistence import (
    Dequeue,
    DropSession,
    Enqueue,
    Op,
    Retain,
    SaveSession,
    StoredSession,
    StoredState,
    Subscribe,
    Unsubscribe,
)

log = logging.getLogger("mainflux.mqtt")

_pack = msgspec.msgpack.Encoder().encode
_session_value = msgspec.msgpack.Decoder(tuple[int | None, float | None])
_subscription_value = msgspec.msgpack.Decoder(tuple[int, int])
_session_key = msgspec.json.Decoder(tuple[str, str])


def _session(owner: str, client_id: str) -> str:
    """A session's name in keys and fields: ``[owner, client id]`` in JSON."""
    return orjson.dumps([owner, client_id]).decode()


def default_prefix(instance: str) -> str:
    """The key prefix of an adapter instance's state."""
    return f"mainflux.mqtt.state.{instance}:"


class RedisStateStore:
    """A :class:`~mainflux.adapters.mqtt.persistence.StateStore` in Redis hashes."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Any = aioredis.from_url(url)
        self._prefix = prefix

    def _key(self, name: str) -> str:
        return self._prefix + name

    async def ping(self) -> None:
        """Return when Redis answers ``PING``."""
        await self._redis.ping()

    async def load(self) -> StoredState:
        """Every session with its subscriptions and queued messages, and the retained;
        entries that cannot be read are logged and deleted."""
        state = StoredState()
        redis = self._redis
        sessions_key = self._key("sessions")
        for field, value in (await redis.hgetall(sessions_key)).items():
            try:
                owner, client_id = _session_key.decode(field)
                expiry, expires_at = _session_value.decode(value)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("mqtt: stored session %r unreadable (%s); deleted", field, exc)
                await redis.hdel(sessions_key, field)
                continue
            stored = StoredSession(owner, client_id, expiry, expires_at)
            name = field.decode()
            subs_key, queue_key = self._key("subs:" + name), self._key("queue:" + name)
            for topic_filter, raw in (await redis.hgetall(subs_key)).items():
                try:
                    stored.subscriptions[topic_filter.decode()] = _subscription_value.decode(raw)
                except (UnicodeDecodeError, msgspec.DecodeError, msgspec.ValidationError):
                    log.warning("mqtt: stored subscription of %s unreadable; deleted", client_id)
                    await redis.hdel(subs_key, topic_filter)
            queued: list[tuple[int, bytes]] = []
            for seq, record in (await redis.hgetall(queue_key)).items():
                try:
                    queued.append((int(seq), bytes(record)))
                except ValueError:
                    log.warning("mqtt: stored message %r of %s unreadable; deleted", seq, client_id)
                    await redis.hdel(queue_key, seq)
            stored.queued = sorted(queued)
            state.sessions.append(stored)
        for topic, record in (await redis.hgetall(self._key("retained"))).items():
            try:
                state.retained.append((topic.decode(), bytes(record)))
            except UnicodeDecodeError:
                await redis.hdel(self._key("retained"), topic)
        return state

    async def apply(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` in order, in one transaction; consecutive changes of one hash
        go as one command (``HSET`` or ``HDEL`` with several fields)."""
        pipe = self._redis.pipeline(transaction=True)
        verb, target, args = "", "", []  # the command being gathered
        for command in self._commands(ops):
            if command[0] == verb and command[1] == target and verb != "DEL":
                args += command[2]
                continue
            if verb:
                pipe.execute_command(verb, target, *args)
            verb, target, args = command[0], command[1], list(command[2])
        if verb:
            pipe.execute_command(verb, target, *args)
        await pipe.execute()

    def _commands(self, ops: Sequence[Op]) -> Iterator[tuple[str, str, list[Any]]]:
        """Each change as ``(verb, key, arguments)``."""
        key = self._key
        names: dict[tuple[str, str], str] = {}

        def name(owner: str, client_id: str) -> str:
            found = names.get((owner, client_id))
            if found is None:
                found = names[(owner, client_id)] = _session(owner, client_id)
            return found

        for op in ops:
            match op:
                case Enqueue(owner, client_id, seq, record):
                    yield "HSET", key("queue:" + name(owner, client_id)), [seq, record]
                case Dequeue(owner, client_id, seq):
                    yield "HDEL", key("queue:" + name(owner, client_id)), [seq]
                case SaveSession(owner, client_id, expiry, expires_at):
                    pair = [name(owner, client_id), _pack((expiry, expires_at))]
                    yield "HSET", key("sessions"), pair
                case DropSession(owner, client_id):
                    session = name(owner, client_id)
                    yield "HDEL", key("sessions"), [session]
                    yield "DEL", key("subs:" + session), [key("queue:" + session)]
                case Subscribe(owner, client_id, topic_filter, qos, options):
                    pair = [topic_filter, _pack((qos, options))]
                    yield "HSET", key("subs:" + name(owner, client_id)), pair
                case Unsubscribe(owner, client_id, topic_filter):
                    yield "HDEL", key("subs:" + name(owner, client_id)), [topic_filter]
                case Retain(topic, None):
                    yield "HDEL", key("retained"), [topic]
                case Retain(topic, record):
                    yield "HSET", key("retained"), [topic, record]

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
