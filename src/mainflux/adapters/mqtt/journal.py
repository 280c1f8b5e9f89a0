"""Write-behind of the broker's state: changes gathered and stored in batches, in order.

The broker records each change of what it keeps (see
:mod:`~mainflux.adapters.mqtt.persistence`) synchronously, which costs a list append;
one writer task hands everything gathered so far to the store in one transaction,
then the next batch (group commit: the batch grows while the previous one is written).
A message acknowledged by its subscriber before its batch was written, and a retained
message replaced in the same batch, are never written at all.

:meth:`Journal.durable` is a future done once everything recorded so far is stored:
the broker holds a publisher's PUBACK/PUBREC on it when the message changed stored
state. While the store is unreachable, batches are retried with a growing delay and
those publishers wait (back-pressure), so nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.persistence import (
    Dequeue,
    DropSession,
    Enqueue,
    Op,
    Retain,
    SaveSession,
    StateStore,
    Subscribe,
    Unsubscribe,
    encode_message,
)

log = logging.getLogger("mainflux.mqtt")

_FIRST_RETRY: Final = 0.2
_LAST_RETRY: Final = 5.0


class Journal:
    """Changes on their way to a :class:`~mainflux.adapters.mqtt.persistence.StateStore`."""

    def __init__(self, store: StateStore, *, close_timeout: float = 10.0) -> None:
        self.store = store
        self.close_timeout = close_timeout
        self.changes = 0  # bumped by every change: compare before and after a step
        self.batches = 0
        self.failures = 0
        self._ops: list[Op | None] = []
        self._enqueued: dict[int, int] = {}  # seq -> index in _ops
        self._retained: dict[str, int] = {}  # topic -> index in _ops
        self._seq = 0
        self._done: asyncio.Future[None] | None = None  # of the batch being gathered
        self._writing: asyncio.Future[None] | None = None  # of the batch being written
        self._writer: asyncio.Task[None] | None = None

    def start_after(self, seq: int) -> None:
        """Number new messages after ``seq`` (the highest one read back)."""
        self._seq = max(self._seq, seq)

    # --- recording (synchronous, on the message path) ------------------------------------

    def record(self, op: Op) -> None:
        """Append one change."""
        self.changes += 1
        ops = self._ops
        ops.append(op)
        if len(ops) == 1 and (self._writer is None or self._writer.done()):
            self._writer = asyncio.get_running_loop().create_task(self._write())

    def save_session(self, owner: Any, client_id: str, expiry: int | None, away: float) -> None:
        """A persistent session is live (``away`` 0) or away until wall-clock ``away``."""
        self.record(SaveSession(str(owner), client_id, expiry, away or None))

    def drop_session(self, owner: Any, client_id: str) -> None:
        """A persistent session is gone with everything it held."""
        self.record(DropSession(str(owner), client_id))

    def subscribe(
        self, owner: Any, client_id: str, topic_filter: str, qos: int, options: int
    ) -> None:
        """A session subscribed (or changed a subscription)."""
        self.record(Subscribe(str(owner), client_id, topic_filter, qos, options))

    def unsubscribe(self, owner: Any, client_id: str, topic_filter: str) -> None:
        """A subscription went."""
        self.record(Unsubscribe(str(owner), client_id, topic_filter))

    def enqueue(self, owner: Any, client_id: str, message: Publish, qos: int, retain: bool) -> int:
        """A QoS 1/2 message for a session; returns its number for :meth:`dequeue`."""
        self._seq += 1
        seq = self._seq
        self._enqueued[seq] = len(self._ops)
        self.record(Enqueue(str(owner), client_id, seq, encode_message(message, qos, retain)))
        return seq

    def dequeue(self, owner: Any, client_id: str, seq: int) -> None:
        """Message ``seq`` was acknowledged (or dropped): forget it."""
        index = self._enqueued.pop(seq, None)
        if index is not None:  # not written yet: never write it
            self._ops[index] = None
            self.changes += 1
            return
        self.record(Dequeue(str(owner), client_id, seq))

    def retain(self, topic: str, message: Publish | None) -> None:
        """The retained message of ``topic`` changed (``None``: cleared)."""
        index = self._retained.get(topic)
        if index is not None:
            self._ops[index] = None
        self._retained[topic] = len(self._ops)
        record = encode_message(message, message.qos, True) if message is not None else None
        self.record(Retain(topic, record))

    # --- waiting -------------------------------------------------------------------------

    def durable(self) -> asyncio.Future[None]:
        """A future done once every change recorded so far is stored."""
        if self._ops:
            if self._done is None:
                self._done = asyncio.get_running_loop().create_future()
            return self._done
        if self._writing is not None and not self._writing.done():
            return self._writing
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    @property
    def backlog(self) -> int:
        """Changes recorded and not yet handed to the store."""
        return len(self._ops)

    async def flush(self) -> None:
        """Wait until everything recorded so far is stored."""
        await self.durable()

    async def close(self) -> None:
        """Store what is left (for at most ``close_timeout`` seconds), then stop."""
        try:
            await asyncio.wait_for(asyncio.shield(self.durable()), self.close_timeout)
        except TimeoutError:
            log.error(
                "mqtt: %d changes of the broker's state could not be stored before stopping",
                len(self._ops),
            )
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    # --- the writer ----------------------------------------------------------------------

    async def _write(self) -> None:
        while self._ops:
            ops = [op for op in self._ops if op is not None]
            done = self._done or asyncio.get_running_loop().create_future()
            self._ops, self._enqueued, self._retained, self._done = [], {}, {}, None
            self._writing = done
            delay = _FIRST_RETRY
            while True:
                try:
                    if ops:
                        await self.store.apply(ops)
                    break
                except Exception as exc:
                    self.failures += 1
                    log.warning(
                        "mqtt: storing the broker's state failed (%s); retrying in %.1fs",
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _LAST_RETRY)
            self.batches += 1
            if not done.done():
                done.set_result(None)
