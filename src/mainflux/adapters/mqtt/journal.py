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
        # the index in _ops of the latest change of each thing changed in this batch, by
        # what it changes: a later change of the same thing makes an earlier one moot
        self._latest: dict[tuple[Any, ...], int] = {}
        self._holes = 0  # moot changes left as None in _ops
        # keys first made in this batch, of things the store did not have before it: a
        # removal in the same batch makes both changes moot
        self._fresh: set[tuple[Any, ...]] = set()
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

    def _replace(self, key: tuple[Any, ...], op: Op, new: bool = False) -> None:
        """Record ``op``, which makes the batch's previous change under ``key`` moot
        (``new``: ``op`` makes what the store does not have)."""
        index = self._latest.get(key)
        if index is not None:
            self._moot(index)
        elif new:
            self._fresh.add(key)
        self._latest[key] = len(self._ops)
        self.record(op)

    def _remove(self, key: tuple[Any, ...], op: Op) -> None:
        """Record the removal ``op``; when what it removes was made in this batch, the
        store never has it: both changes are moot (a store that stays down costs no
        memory for things made and removed meanwhile)."""
        if key in self._fresh:
            self._fresh.discard(key)
            self._moot(self._latest.pop(key))
            self.changes += 1
            return
        self._replace(key, op)

    def _moot(self, index: int) -> None:
        """Forget the change at ``index``; compact the batch when half of it is moot
        (so a store that stays down costs memory for live changes only)."""
        self._ops[index] = None
        self._holes += 1
        if self._holes > 1024 and self._holes * 2 > len(self._ops):
            kept: list[Op | None] = []
            moved: dict[int, int] = {}
            for old, op in enumerate(self._ops):
                if op is not None:
                    moved[old] = len(kept)
                    kept.append(op)
            self._latest = {k: moved[i] for k, i in self._latest.items() if i in moved}
            self._ops = kept
            self._holes = 0

    def save_session(self, owner: Any, client_id: str, expiry: int | None, away: float) -> None:
        """A persistent session is live (``away`` 0) or away until wall-clock ``away``."""
        owner = str(owner)
        self._replace(
            ("save", owner, client_id), SaveSession(owner, client_id, expiry, away or None)
        )

    def drop_session(self, owner: Any, client_id: str) -> None:
        """A persistent session is gone with everything it held."""
        owner = str(owner)
        self._replace(("drop", owner, client_id), DropSession(owner, client_id))

    def subscribe(
        self,
        owner: Any,
        client_id: str,
        topic_filter: str,
        qos: int,
        options: int,
        new: bool = False,
    ) -> None:
        """A session subscribed (``new``: to a filter it had not stored), or changed a
        subscription."""
        owner = str(owner)
        op = Subscribe(owner, client_id, topic_filter, qos, options)
        self._replace(("filter", owner, client_id, topic_filter), op, new)

    def unsubscribe(self, owner: Any, client_id: str, topic_filter: str) -> None:
        """A subscription went."""
        owner = str(owner)
        op = Unsubscribe(owner, client_id, topic_filter)
        self._remove(("filter", owner, client_id, topic_filter), op)

    def enqueue(self, owner: Any, client_id: str, message: Publish, qos: int, retain: bool) -> int:
        """A QoS 1/2 message for a session; returns its number for :meth:`dequeue`."""
        self._seq += 1
        seq = self._seq
        self._latest[("message", seq)] = len(self._ops)
        self.record(Enqueue(str(owner), client_id, seq, encode_message(message, qos, retain)))
        return seq

    def dequeue(self, owner: Any, client_id: str, seq: int) -> None:
        """Message ``seq`` was acknowledged (or dropped): forget it."""
        index = self._latest.pop(("message", seq), None)
        if index is not None:  # not written yet: never write it
            self._moot(index)
            self.changes += 1
            return
        self.record(Dequeue(str(owner), client_id, seq))

    def retain(self, topic: str, message: Publish | None, new: bool = False) -> None:
        """The retained message of ``topic`` changed (``None``: cleared; ``new``: the
        topic had none)."""
        if message is None:
            self._remove(("retained", topic), Retain(topic, None))
            return
        record = encode_message(message, message.qos, True)
        self._replace(("retained", topic), Retain(topic, record), new)

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
            self._ops, self._latest, self._holes, self._done = [], {}, 0, None
            self._fresh = set()
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
        waiting = self._done  # a batch that turned out to be all moot: nothing to write
        if waiting is not None and not self._ops:
            self._done = None
            if not waiting.done():
                waiting.set_result(None)
