"""Concurrent lookups answered together: one call per batch instead of one per key.

:class:`Batched` wraps a function that answers many keys at once (say, one SQL query
with ``IN``). Keys asked while no batch runs start one at once; keys asked while a
batch runs wait for it and go together in the next one. An idle service thus answers
with one call's latency, and a burst costs a few calls instead of one per key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batched(Generic[K, V]):
    """Answers :meth:`get` from ``answer(keys)``, which returns the values of the keys
    it knows (a key it leaves out is ``None``). ``most`` keys go in one call at most.
    An error ``answer`` raises reaches every key of its batch."""

    def __init__(self, answer: Callable[[list[K]], Awaitable[Mapping[K, V]]], most: int = 500):
        if most < 1:
            raise ValueError("a batch holds at least one key")
        self._answer = answer
        self._most = most
        self._waiting: dict[K, asyncio.Future[V | None]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.calls = 0  # calls of ``answer`` (for tests and benchmarks)

    async def get(self, key: K) -> V | None:
        """The value of ``key``, or ``None`` when ``answer`` does not know it."""
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            if self._runner is None:
                self._runner = asyncio.ensure_future(self._run())
        # a waiter that is cancelled leaves the others' answer alone
        return await asyncio.shield(future)

    async def _run(self) -> None:
        try:
            while self._waiting:
                keys = list(self._waiting)[: self._most]
                futures = [self._waiting.pop(key) for key in keys]
                self.calls += 1
                try:
                    found = await self._answer(keys)
                except Exception as exc:
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                            future.exception()  # retrieved: a waiter may have left
                    continue
                for key, future in zip(keys, futures, strict=True):
                    if not future.done():
                        future.set_result(found.get(key))
        finally:
            self._runner = None
            for future in self._waiting.values():  # cancelled: nobody answers these
                if not future.done():
                    future.cancel()
            self._waiting.clear()
