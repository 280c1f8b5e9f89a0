"""Retry with exponential backoff, cut short by a stop event.

One helper for every start-up or consume loop that waits for a server to come back:
delays grow ``first, first * factor, …`` up to ``most``; a set ``stop`` event ends
the wait at once, so a process asked to stop never sits out a backoff delay and
never starts another attempt."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

log = logging.getLogger("mainflux.retry")


class Backoff:
    """Exponentially growing delays; :meth:`reset` after a success starts over."""

    def __init__(self, first: float = 0.2, most: float = 5.0, factor: float = 2.0) -> None:
        if first <= 0 or most < first or factor < 1:
            raise ValueError("backoff needs 0 < first <= most and factor >= 1")
        self.first = first
        self.most = most
        self.factor = factor
        self._next = first

    def next_delay(self) -> float:
        """The delay before the next attempt (each call grows the one after)."""
        delay = self._next
        self._next = min(delay * self.factor, self.most)
        return delay

    def reset(self) -> None:
        """Start again from the first delay (call after a success)."""
        self._next = self.first

    async def wait(self, stop: asyncio.Event) -> bool:
        """Sleep for the next delay; return True at once when ``stop`` is (or gets) set."""
        return await wait_or_stop(stop, self.next_delay())


async def wait_or_stop(stop: asyncio.Event, delay: float) -> bool:
    """Sleep up to ``delay`` seconds, less if ``stop`` gets set; return whether it is set."""
    if not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
    return stop.is_set()


async def retry(
    attempt: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    *,
    what: str,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: Backoff | None = None,
    logger: logging.Logger = log,
) -> T | None:
    """Await ``attempt()`` until it returns, backing off after each ``retry_on`` error.

    Each failure is logged as a warning naming ``what`` and the error. Returns
    ``attempt``'s result, or None when ``stop`` was set before an attempt succeeded.
    Errors other than ``retry_on`` propagate."""
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            return await attempt()
        except retry_on as exc:
            delay = backoff.next_delay()
            logger.warning("%s failed (%s); retrying in %.1fs", what, _describe(exc), delay)
        if await wait_or_stop(stop, delay):
            break
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
