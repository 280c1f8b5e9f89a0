"""Which subjects JetStream streams capture, as the NATS bus needs to know to confirm.

A confirmed publish waits for a stream's PubAck, which only comes when some stream
stores the subject; to a subject no stream captures (core subscribers only, or nobody)
the bus publishes plainly instead of waiting for a reply that never comes. The list is
JetStream's own (``$JS.API.STREAM.LIST``), read again every :data:`REFRESH_PERIOD`
seconds and whenever :meth:`CapturedSubjects.refresh_soon` asks (after a reconnect, or
after a confirmation timed out). A server without JetStream captures nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from nats.errors import Error as NatsError
from nats.js.errors import ServiceUnavailableError
from nats.js.manager import JetStreamManager

from mainflux.core.errors import MalformedEntity
from mainflux.messaging.subjects import matches, subject_tokens

log = logging.getLogger("mainflux.bus.nats")

#: Seconds between two readings of the streams' subjects.
REFRESH_PERIOD: Final = 3.0
#: Seconds one reading may take.
LIST_TIMEOUT: Final = 2.0


class CapturedSubjects:
    """The subject filters of every stream on one server, kept fresh by a task."""

    def __init__(self, jsm: JetStreamManager, *, period: float = REFRESH_PERIOD) -> None:
        """Read streams through ``jsm``; :meth:`start` the refreshing task."""
        self._jsm = jsm
        self._period = period
        self._patterns: tuple[tuple[str, ...], ...] = ()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def captures(self, subject: str) -> bool:
        """Whether some stream stores ``subject`` (as of the last reading)."""
        if not self._patterns:
            return False
        tokens = tuple(subject.split("."))
        return any(matches(pattern, tokens) for pattern in self._patterns)

    async def refresh(self) -> None:
        """Read the streams' subjects now; on failure keep the previous list (no
        JetStream on the server: nothing is captured)."""
        try:
            patterns: list[tuple[str, ...]] = []
            offset = 0
            while True:
                page = await self._jsm.streams_info(offset)
                if not page:
                    break
                offset += len(page)
                for info in page:
                    for subject in info.config.subjects or ():
                        with contextlib.suppress(MalformedEntity):
                            patterns.append(subject_tokens(subject, wildcards=True))
        except ServiceUnavailableError:
            self._patterns = ()
        except (NatsError, TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.debug("cannot list JetStream streams: %s", exc)
            return
        else:
            self._patterns = tuple(patterns)

    def refresh_soon(self) -> None:
        """Have the task read the streams again without waiting for its period."""
        self._wake.set()

    async def start(self) -> None:
        """Read once, then keep reading in the background."""
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="mainflux-bus-streams")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._period)
            self._wake.clear()
            await self.refresh()

    async def close(self) -> None:
        """Stop refreshing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
