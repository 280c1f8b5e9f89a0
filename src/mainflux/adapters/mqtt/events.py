"""``mainflux.mqtt`` connect/disconnect events (SEED-EVENTS.md).

Entries are appended by one background task from a bounded queue, so a slow or
unreachable event store never holds clients back. A failed append (or an entry dropped
because the queue is full) is logged and counted in
``mainflux_event_append_failures_total{stream="mainflux.mqtt"}``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Final

from mainflux.core.metrics import EVENT_FAILURES
from mainflux.events.stream import EventStream

log = logging.getLogger("mainflux.mqtt")

STREAM: Final = "mainflux.mqtt"
CONNECT: Final = "connect"
DISCONNECT: Final = "disconnect"


class ConnectionEvents:
    """Appends one entry per accepted connect and per disconnect of a thing."""

    def __init__(self, stream: EventStream, instance: str, *, max_queued: int = 10_000) -> None:
        self.stream = stream
        self.instance = instance
        self.max_queued = max_queued
        self.failures = 0
        self._queue: deque[dict[str, str]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the appending task."""
        self._task = asyncio.create_task(self._run())

    async def stop(self, timeout: float = 2.0) -> None:
        """Append what is queued (up to ``timeout`` seconds), then stop."""
        deadline = time.monotonic() + timeout
        while self._queue and time.monotonic() < deadline and self._task is not None:
            await asyncio.sleep(0.02)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def record(self, thing_id: str, event_type: str) -> None:
        """Queue one entry."""
        if len(self._queue) >= self.max_queued:
            self._failed("event queue full")
            return
        self._queue.append(
            {
                "thing_id": thing_id,
                "timestamp": str(int(time.time())),
                "event_type": event_type,
                "instance": self.instance,
            }
        )
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                fields = self._queue.popleft()
                try:
                    await self.stream.append(STREAM, fields)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(str(exc))

    def _failed(self, reason: str) -> None:
        self.failures += 1
        EVENT_FAILURES.labels(STREAM).inc()
        if self.failures & (self.failures - 1) == 0:
            log.warning(
                "mqtt: event not appended to %s (%d so far): %s", STREAM, self.failures, reason
            )
