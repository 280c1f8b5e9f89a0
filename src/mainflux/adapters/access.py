"""The adapters' thing-access cache: no RPC or database call per message.

:class:`CachedThingAccess` wraps any :class:`~mainflux.core.auth.ThingAccess` (the
things service in-process, or its gRPC client) and remembers, in this process:

- ``key -> thing id`` answers of ``identify``/``can_access_by_key``;
- ``(channel, thing)`` connections confirmed by ``can_access_by_key``/``can_access_by_id``;
- refusals (``Unauthorized``) of ``(channel, key)`` and ``(channel, thing)``, so a client
  hammering with a wrong key costs one call per ``negative_max_age``, not one per message.

Freshness has two guards. :meth:`CachedThingAccess.run` tails the things event stream
and drops what an event makes stale: ``thing.remove`` (the thing's keys and connections),
``thing.disconnect`` (that connection), ``channel.remove`` (the channel's connections),
``thing.update`` (the thing's keys: a key change appears as ``thing.update`` with only
the id), and ``thing.connect`` (refusals on that channel).
And every entry expires after ``max_age`` seconds (refusals after
``negative_max_age``), both 1 s by default, so a revoked key stops working within one
second even when an event is lost or no stream is configured. A hot key thus costs one
call per second per process. Concurrent misses for the same question share one call,
and an answer that was in flight while an invalidation arrived is not cached.
``ServiceUnavailable`` is never cached.

A slow or briefly unreachable things service is not a refusal: a miss that ends in
``ServiceUnavailable`` (a call that timed out under a burst, a refused connection) is
asked again, backing off, until ``patience`` seconds have passed since the question
was first asked (``MF_THINGS_AUTH_DEADLINE``); only then is ``ServiceUnavailable``
raised. Waiters of one shared question wait for the same retries. ``Unauthorized``, a
definite "no", is never retried.

Live connections follow the same events: :meth:`CachedThingAccess.watch` registers a
listener that is told, as a :class:`Revocation`, of every event that may take a right
away (a thing removed, its key changed, a thing disconnected, a channel removed), after
the cache has dropped what the event made stale. Adapters use it to close connections
and drop subscriptions that are no longer allowed. When the stream could not be read
for a while, changes made meanwhile were never heard: once reading works again the
cache is cleared and listeners get ``Revoked.UNKNOWN``, meaning "check every right you
hold again"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeVar

from mainflux.core.auth import ThingAccess
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.retry import Backoff
from mainflux.events.stream import EventStream

log = logging.getLogger("mainflux.access")

T = TypeVar("T")
THINGS_STREAM: Final = "mainflux.things"
_MAX_ENTRIES: Final = 100_000


class Revoked(Enum):
    """What a things event took away."""

    THING = "thing"  # the thing was removed: its key and every connection are gone
    KEY = "key"  # the thing's key may have changed: a held key must be checked again
    CONNECTION = "connection"  # the thing was disconnected from the channel
    CHANNEL = "channel"  # the channel was removed: every thing on it lost it
    UNKNOWN = "unknown"  # events may have been missed: every right must be checked again


@dataclass(frozen=True, slots=True)
class Revocation:
    """One right that live connections may have lost (ids are empty when not part of it)."""

    what: Revoked
    thing_id: str = ""
    channel_id: str = ""


RevocationListener = Callable[[Revocation], None]


class _Expiring(dict[T, float]):
    """A bounded map of keys to their expiry instant (oldest dropped first)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def fresh(self, key: T, now: float) -> bool:
        expiry = self.get(key)
        if expiry is None:
            return False
        if expiry <= now:
            self.pop(key, None)
            return False
        return True

    def put(self, key: T, expiry: float) -> None:
        self.pop(key, None)
        if len(self) >= self.limit:
            self.pop(next(iter(self)), None)
        self[key] = expiry


class CachedThingAccess:
    """A caching :class:`~mainflux.core.auth.ThingAccess` (see the module doc)."""

    def __init__(
        self,
        inner: ThingAccess,
        events: EventStream | None,
        *,
        stream: str = THINGS_STREAM,
        max_age: float = 1.0,
        negative_max_age: float = 1.0,
        max_entries: int = _MAX_ENTRIES,
        patience: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Cache ``inner``'s answers; ``events`` (when given) is tailed by :meth:`run`.

        ``patience``: seconds a question is asked again while ``inner`` is unavailable
        (0: asked once)."""
        self._inner = inner
        self._patience = patience
        self._events = events
        self._stream = stream
        self._max_age = max_age
        self._negative_max_age = negative_max_age
        self._clock = clock
        self._keys: dict[str, tuple[str, float]] = {}  # key -> (thing id, expiry)
        self._thing_keys: dict[str, set[str]] = {}  # thing id -> its cached keys
        self._links: _Expiring[tuple[str, str]] = _Expiring(max_entries)  # (channel, thing)
        self._denied: _Expiring[tuple[str, str]] = _Expiring(max_entries)  # (channel, key|id)
        self._max_entries = max_entries
        self._generation = 0
        self._inflight: dict[tuple[str, str, str], asyncio.Future[str]] = {}
        self._listeners: list[RevocationListener] = []
        self.calls = 0  # calls that reached ``inner``: for tests and benchmarks
        self.events_seen = 0  # stream entries handled by :meth:`run`
        self.read_failures = 0  # reads of the stream that failed (for tests and metrics)
        self.retries = 0  # questions asked again because ``inner`` was unavailable

    # -- ThingAccess ---------------------------------------------------------------

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        """Return the thing id when the thing with ``key`` may use the channel.

        Raises ``Unauthorized`` (also for an empty key) or ``ServiceUnavailable``."""
        if not key:
            raise Unauthorized()
        now = self._clock()
        cached = self._keys.get(key)
        if (
            cached is not None
            and cached[1] > now
            and self._links.fresh((channel_id, cached[0]), now)
        ):
            return cached[0]
        if self._denied.fresh((channel_id, "k" + key), now):
            raise Unauthorized()
        return await self._shared(("k", channel_id, key), self._fetch_by_key)

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        """Return when the thing is connected to the channel; raises ``Unauthorized``."""
        now = self._clock()
        if self._links.fresh((channel_id, thing_id), now):
            return
        if self._denied.fresh((channel_id, "i" + thing_id), now):
            raise Unauthorized()
        await self._shared(("i", channel_id, thing_id), self._fetch_by_id)

    async def identify(self, key: str) -> str:
        """Return the id of the thing with ``key``; raises ``Unauthorized``."""
        if not key:
            raise Unauthorized()
        cached = self._keys.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        return await self._shared(("n", "", key), self._fetch_identity)

    # -- misses ------------------------------------------------------------------------

    async def _shared(
        self, question: tuple[str, str, str], fetch: Callable[[str, str], Awaitable[str]]
    ) -> str:
        task = self._inflight.get(question)
        if task is None:
            task = asyncio.ensure_future(self._patiently(fetch, question[1], question[2]))
            self._inflight[question] = task

            def done(finished: asyncio.Future[str]) -> None:
                if self._inflight.get(question) is finished:
                    del self._inflight[question]
                if not finished.cancelled():
                    finished.exception()  # retrieved here even when every waiter left

            task.add_done_callback(done)
        return await asyncio.shield(task)

    async def _patiently(
        self, fetch: Callable[[str, str], Awaitable[str]], first: str, second: str
    ) -> str:
        """``fetch(first, second)``, asked again while it raises ``ServiceUnavailable``
        until ``patience`` seconds have passed."""
        deadline = self._clock() + self._patience
        backoff = Backoff(first=0.05, most=1.0)
        while True:
            try:
                return await fetch(first, second)
            except ServiceUnavailable:
                left = deadline - self._clock()
                if left <= 0:
                    raise
            self.retries += 1
            await asyncio.sleep(min(backoff.next_delay(), left))

    async def _fetch_by_key(self, channel_id: str, key: str) -> str:
        generation = self._generation
        self.calls += 1
        try:
            thing_id = await self._inner.can_access_by_key(channel_id, key)
        except Unauthorized:
            if generation == self._generation:
                self._denied.put((channel_id, "k" + key), self._clock() + self._negative_max_age)
            raise
        if generation == self._generation:
            expiry = self._clock() + self._max_age
            self._remember_key(key, thing_id, expiry)
            self._links.put((channel_id, thing_id), expiry)
        return thing_id

    async def _fetch_by_id(self, channel_id: str, thing_id: str) -> str:
        generation = self._generation
        self.calls += 1
        try:
            await self._inner.can_access_by_id(channel_id, thing_id)
        except Unauthorized:
            if generation == self._generation:
                self._denied.put(
                    (channel_id, "i" + thing_id), self._clock() + self._negative_max_age
                )
            raise
        if generation == self._generation:
            self._links.put((channel_id, thing_id), self._clock() + self._max_age)
        return thing_id

    async def _fetch_identity(self, _: str, key: str) -> str:
        generation = self._generation
        self.calls += 1
        thing_id = await self._inner.identify(key)
        if generation == self._generation:
            self._remember_key(key, thing_id, self._clock() + self._max_age)
        return thing_id

    def _remember_key(self, key: str, thing_id: str, expiry: float) -> None:
        if key not in self._keys and len(self._keys) >= self._max_entries:
            self._forget_key(next(iter(self._keys)))
        self._keys[key] = (thing_id, expiry)
        self._thing_keys.setdefault(thing_id, set()).add(key)

    def _forget_key(self, key: str) -> None:
        entry = self._keys.pop(key, None)
        if entry is not None:
            keys = self._thing_keys.get(entry[0])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._thing_keys[entry[0]]

    # -- invalidation --------------------------------------------------------------------

    def watch(self, listener: RevocationListener) -> Callable[[], None]:
        """Tell ``listener`` of every :class:`Revocation`; returns a function that stops it.

        Listeners run synchronously inside :meth:`invalidate`, after the cache has been
        updated, so an access check they start gets a fresh answer. They must not block;
        one that raises is logged and the others still run."""
        self._listeners.append(listener)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return stop

    def invalidate(self, fields: Mapping[str, str]) -> None:
        """Drop what one things event makes stale (unknown operations are ignored)."""
        op = fields.get("operation", "")
        revocation: Revocation | None = None
        if op == "thing.remove":
            thing_id = fields.get("id", "")
            self._drop_thing_keys(thing_id)
            self._drop_links(lambda c, t: t == thing_id)
            revocation = Revocation(Revoked.THING, thing_id=thing_id)
        elif op == "thing.update":
            # A key change appears as ``thing.update`` with nothing but the id.
            thing_id = fields.get("id", "")
            self._drop_thing_keys(thing_id)
            self._denied.clear()
            revocation = Revocation(Revoked.KEY, thing_id=thing_id)
        elif op == "thing.disconnect":
            self._bump()
            channel_id, thing_id = fields.get("chan_id", ""), fields.get("thing_id", "")
            self._links.pop((channel_id, thing_id), None)
            revocation = Revocation(Revoked.CONNECTION, thing_id=thing_id, channel_id=channel_id)
        elif op == "channel.remove":
            channel_id = fields.get("id", "")
            self._drop_links(lambda c, t: c == channel_id)
            revocation = Revocation(Revoked.CHANNEL, channel_id=channel_id)
        elif op == "thing.connect":
            self._bump()
            channel = fields.get("chan_id", "")
            for entry in [e for e in self._denied if e[0] == channel]:
                self._denied.pop(entry, None)
        if revocation is not None:
            self._revoke(revocation)

    def _revoke(self, revocation: Revocation) -> None:
        for listener in list(self._listeners):
            try:
                listener(revocation)
            except Exception:
                log.exception("a revocation listener failed on %s", revocation)

    def clear(self) -> None:
        """Forget everything (used when events may have been missed)."""
        self._bump()
        self._keys.clear()
        self._thing_keys.clear()
        self._links.clear()
        self._denied.clear()

    def abandon(self) -> None:
        """Cancel every question in flight (before ``inner`` is closed)."""
        for task in list(self._inflight.values()):
            task.cancel()
        self._inflight.clear()

    def _bump(self) -> None:
        self._generation += 1
        self._inflight.clear()  # a question asked from now on must not join a stale call

    def _drop_thing_keys(self, thing_id: str) -> None:
        self._bump()
        for key in self._thing_keys.pop(thing_id, set()):
            self._keys.pop(key, None)

    def _drop_links(self, stale: Callable[[str, str], bool]) -> None:
        self._bump()
        for link in [link for link in self._links if stale(*link)]:
            self._links.pop(link, None)

    async def run(self, *, block: float = 1.0, retry: float = 0.5) -> None:
        """Tail the things stream from now on and invalidate, until cancelled.

        A read failure clears the whole cache (events may be missed) and retries after
        ``retry`` seconds, backing off to at most a second (or ``retry`` when longer).
        The first read that works again clears it once more and tells the listeners
        ``Revoked.UNKNOWN``: changes made while the stream could not be read were never
        heard, so live connections must be checked again."""
        if self._events is None:
            return
        after = "$"
        failing = False
        backoff = Backoff(first=retry, most=max(retry, 1.0))
        while True:
            try:
                entries = await self._events.read(self._stream, after, count=500, block=block)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Once per outage at WARNING: every retry would repeat it.
                log.log(
                    logging.DEBUG if failing else logging.WARNING,
                    "reading %s failed (%s); cache cleared, retrying",
                    self._stream,
                    exc,
                )
                failing = True
                self.read_failures += 1
                self.clear()
                await asyncio.sleep(backoff.next_delay())
                continue
            if failing:
                failing = False
                backoff.reset()
                log.info("reading %s again; live connections are checked again", self._stream)
                self.clear()
                self._revoke(Revocation(Revoked.UNKNOWN))
            for entry_id, fields in entries:
                self.invalidate(fields)
                self.events_seen += 1
                after = entry_id
