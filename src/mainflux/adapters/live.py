"""Live subscriptions of an adapter (WebSockets, CoAP observations): the caps, and
ending what a revocation hits.

:class:`LiveSockets` counts every subscription the adapter holds (handshakes included) and
indexes the open ones by thing and by channel. While it holds any, it listens to the
access cache's revocations (:meth:`~mainflux.adapters.access.CachedThingAccess.watch`)
and marks the sockets that lost their right:

- ``Revoked.THING``: every socket of the removed thing;
- ``Revoked.CONNECTION``: the thing's sockets on that channel;
- ``Revoked.CHANNEL``: every socket on the removed channel;
- ``Revoked.KEY``: the thing's key may have changed, so each distinct key its sockets
  authenticated with is checked again (``identify``, in a task); the sockets whose key
  is refused or now names another thing are marked. A things service that cannot be
  reached keeps them open (the next event or a reconnect decides);
- ``Revoked.UNKNOWN``: events may have been missed (the things event stream could not
  be read for a while), so every socket is checked again, once per distinct channel and
  key (``can_access_by_key``: who the key belongs to now, and whether it may still use
  the channel), at most :data:`RECHECK_CONCURRENCY` questions at a time; the sockets
  refused or whose key now names another thing are marked. Unreachable things keep
  them open, as above.

A marked socket's :attr:`LiveSocket.revoked` future is done; the adapter waits on it
next to the client's frames (or notifications) and ends the subscription. Nothing here
runs per message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from mainflux.adapters.access import Revocation, RevocationListener, Revoked
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import NotFound, ServiceUnavailable, Unauthorized

log = logging.getLogger("mainflux.adapters")

DEFAULT_MAX_CONNECTIONS: Final = 10_000
DEFAULT_MAX_CONNECTIONS_PER_THING: Final = 100
#: Access questions in flight at once while every socket is checked again.
RECHECK_CONCURRENCY: Final = 32


@runtime_checkable
class RevocationSource(Protocol):
    """Something that tells listeners of revoked rights (the adapters' access cache)."""

    def watch(self, listener: RevocationListener) -> Callable[[], None]:
        """Register ``listener``; the returned function unregisters it."""
        ...


def _new_future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False, slots=True)
class LiveSocket:
    """One accepted subscription: who holds it, on which channel, with which key."""

    thing: str
    channel: str
    key: str
    revoked: asyncio.Future[None] = field(default_factory=_new_future)

    def revoke(self) -> None:
        """Mark the socket as no longer allowed (idempotent)."""
        if not self.revoked.done():
            self.revoked.set_result(None)


class LiveSockets:
    """An adapter's subscriptions: caps on their number and revocation (see the module
    doc); ``kind`` names them in log lines (``WebSockets``, ``CoAP observers``)."""

    def __init__(
        self,
        access: ThingAccess,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_per_thing: int = DEFAULT_MAX_CONNECTIONS_PER_THING,
        kind: str = "WebSockets",
    ) -> None:
        """Cap at ``max_connections`` sockets (handshakes included) and
        ``max_per_thing`` open sockets per thing; ``access`` answers key re-checks and,
        when it is a :class:`RevocationSource`, tells of revocations."""
        if max_connections < 1 or max_per_thing < 1:
            raise ValueError("the connection caps must be at least 1")
        self.max_connections = max_connections
        self.max_per_thing = max_per_thing
        self.kind = kind
        self._access = access
        self._source = access if isinstance(access, RevocationSource) else None
        self._unwatch: Callable[[], None] | None = None
        self._by_thing: dict[str, set[LiveSocket]] = {}
        self._by_channel: dict[str, set[LiveSocket]] = {}
        self._checks: set[asyncio.Task[None]] = set()
        self.count = 0  # sockets held, handshakes included
        self.revocations = 0  # revocations heard so far (a handshake compares before/after)

    @property
    def watching(self) -> bool:
        """Whether a revocation listener is registered (only while sockets are held)."""
        return self._unwatch is not None

    # -- counting ------------------------------------------------------------------

    def reserve(self) -> bool:
        """Count one more socket; ``False`` (nothing counted) when the adapter is full.

        The first one registers the revocation listener, so revocations that arrive
        while a handshake is being checked are heard too."""
        if self.count >= self.max_connections:
            return False
        self.count += 1
        if self._unwatch is None and self._source is not None:
            self._unwatch = self._source.watch(self._revoked)
        return True

    def release(self) -> None:
        """Uncount a socket; the last one unregisters the revocation listener."""
        self.count -= 1
        if self.count == 0 and self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def add(self, socket: LiveSocket) -> bool:
        """Index an authorized socket; ``False`` when its thing holds ``max_per_thing``."""
        mine = self._by_thing.get(socket.thing)
        if mine is None:
            mine = self._by_thing[socket.thing] = set()
        elif len(mine) >= self.max_per_thing:
            return False
        mine.add(socket)
        self._by_channel.setdefault(socket.channel, set()).add(socket)
        return True

    def discard(self, socket: LiveSocket) -> None:
        """Drop a socket from the index (when it is gone)."""
        _remove(self._by_thing, socket.thing, socket)
        _remove(self._by_channel, socket.channel, socket)

    def of_thing(self, thing: str) -> int:
        """How many open sockets ``thing`` holds."""
        return len(self._by_thing.get(thing, ()))

    async def settled(self) -> None:
        """Wait until every key re-check started so far has finished."""
        while self._checks:
            await asyncio.gather(*self._checks, return_exceptions=True)

    # -- revocation ----------------------------------------------------------------

    def _revoked(self, revocation: Revocation) -> None:
        self.revocations += 1
        what = revocation.what
        if what is Revoked.THING:
            _revoke_all(self._by_thing.get(revocation.thing_id, ()))
        elif what is Revoked.CONNECTION:
            _revoke_all(
                s
                for s in self._by_thing.get(revocation.thing_id, ())
                if s.channel == revocation.channel_id
            )
        elif what is Revoked.CHANNEL:
            _revoke_all(self._by_channel.get(revocation.channel_id, ()))
        elif what is Revoked.KEY:
            keys = {s.key for s in self._by_thing.get(revocation.thing_id, ())}
            for key in keys:
                self._spawn(self._check_key(revocation.thing_id, key))
        elif what is Revoked.UNKNOWN:
            held: dict[tuple[str, str], list[LiveSocket]] = {}
            for sockets in self._by_channel.values():
                for socket in sockets:
                    held.setdefault((socket.channel, socket.key), []).append(socket)
            if held:
                self._spawn(self._check_all(held))

    def _spawn(self, check: Coroutine[None, None, None]) -> None:
        task = asyncio.get_running_loop().create_task(check)
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check_all(self, held: dict[tuple[str, str], list[LiveSocket]]) -> None:
        """Ask again about each (channel, key) of ``held``; revoke the sockets refused."""
        limit = asyncio.Semaphore(RECHECK_CONCURRENCY)
        closed = kept = 0

        async def check(channel: str, key: str, sockets: list[LiveSocket]) -> None:
            nonlocal closed, kept
            async with limit:
                try:
                    owner = await self._access.can_access_by_key(channel, key)
                except (Unauthorized, NotFound):
                    owner = ""
                except ServiceUnavailable:
                    kept += len(sockets)  # the next event or a reconnect decides
                    return
                except Exception as exc:  # an unexpected failure keeps the sockets open
                    log.warning("a socket on %s could not be checked again: %s", channel, exc)
                    kept += len(sockets)
                    return
            stale = [s for s in sockets if s.thing != owner and not s.revoked.done()]
            _revoke_all(stale)
            closed += len(stale)

        await asyncio.gather(*(check(c, k, sockets) for (c, k), sockets in held.items()))
        log.info(
            "things events may have been missed: %d %s checked again, %d closed, "
            "%d kept unchecked (things service unavailable)",
            sum(len(sockets) for sockets in held.values()),
            self.kind,
            closed,
            kept,
        )

    async def _check_key(self, thing: str, key: str) -> None:
        """Ask again who ``key`` belongs to; revoke the sockets it no longer admits."""
        try:
            owner = await self._access.identify(key)
        except (Unauthorized, NotFound):
            owner = ""
        except ServiceUnavailable:
            log.info("a key of thing %s could not be checked again: things unavailable", thing)
            return
        except Exception as exc:  # an unexpected failure keeps the sockets open
            log.warning("a key of thing %s could not be checked again: %s", thing, exc)
            return
        if owner != thing:
            _revoke_all(s for s in self._by_thing.get(thing, ()) if s.key == key)


def _remove(index: dict[str, set[LiveSocket]], name: str, socket: LiveSocket) -> None:
    sockets = index.get(name)
    if sockets is not None:
        sockets.discard(socket)
        if not sockets:
            del index[name]


def _revoke_all(sockets: Iterable[LiveSocket]) -> None:
    for socket in list(sockets):
        socket.revoke()
