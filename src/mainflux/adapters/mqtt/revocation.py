"""Rights taken away by the things service, applied to live and absent MQTT sessions.

A :class:`Revoker` listens to the adapter's
:class:`~mainflux.adapters.access.CachedThingAccess` (which tails ``mainflux.things``)
and, for each :class:`~mainflux.adapters.access.Revocation`:

- ``THING`` (thing removed): closes every connection of the thing (an MQTT 5 client
  first gets DISCONNECT 0x87, not authorized; no will is published) and discards its
  absent sessions and delayed wills;
- ``KEY`` (the thing's key may have changed): authenticates every live connection of
  the thing again with the user name and password of its CONNECT, and closes those
  refused the same way; a connection whose check cannot be answered (things service
  unreachable) stays;
- ``CONNECTION`` (thing disconnected from a channel): removes the thing's
  subscriptions to ``channels/<id>/messages...`` from its live and absent sessions,
  with the messages of that channel still queued for them;
- ``CHANNEL`` (channel removed): the same for every session subscribed to the channel,
  and the channel's retained messages are forgotten;
- ``UNKNOWN`` (events may have been missed while the things event stream could not be
  read): every right held is checked again, a few questions at a time: each live
  connection's key (as for ``KEY``) and, once per thing and channel, the subscriptions of
  its live and absent sessions (as for ``CONNECTION`` when refused). A question the
  things service cannot answer keeps what it is about (the next event or reconnect
  decides).

Sessions are found through the broker's indexes (principal -> sessions, and the
subscription tree below ``channels/<id>``), so the message path pays nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from mainflux.adapters.access import CachedThingAccess, Revocation, Revoked
from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.policy import channel_of
from mainflux.adapters.mqtt.restore import verdict
from mainflux.adapters.mqtt.session import Client

log = logging.getLogger("mainflux.mqtt")

Credentials = tuple[str | None, bytes | None]

#: Questions to the things service at once when every right is checked again.
RECHECK_CONCURRENCY: Final = 64


class Revoker:
    """Applies revocations to one broker (see the module doc)."""

    def __init__(self, broker: Broker, access: CachedThingAccess) -> None:
        self.broker = broker
        self.access = access
        self._unwatch: Callable[[], None] | None = None

    def start(self) -> None:
        """Start listening to the access cache's revocations."""
        if self._unwatch is None:
            self._unwatch = self.access.watch(self.revoke)

    def stop(self) -> None:
        """Stop listening."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    def revoke(self, revocation: Revocation) -> None:
        """Apply one revocation (synchronously, but for the key checks it starts)."""
        broker = self.broker
        broker.epoch += 1
        what, thing_id, channel_id = revocation.what, revocation.thing_id, revocation.channel_id
        if what is Revoked.THING:
            closed, discarded = broker.end_principal(thing_id, codec5.NOT_AUTHORIZED)
            if closed or discarded:
                log.info(
                    "mqtt: thing %s removed: %d connections closed, %d sessions discarded",
                    thing_id,
                    closed,
                    discarded,
                )
        elif what is Revoked.KEY:
            self._check_keys(thing_id)
        elif what is Revoked.CONNECTION:
            dropped = broker.drop_subscriptions(broker.sessions_of(thing_id), _on(channel_id))
            if dropped:
                log.info(
                    "mqtt: thing %s disconnected from channel %s: %d subscriptions dropped",
                    thing_id,
                    channel_id,
                    dropped,
                )
        elif what is Revoked.CHANNEL:
            sessions = broker.subscribers_under(f"channels/{channel_id}")
            sessions |= broker.subscribers_under(f"/channels/{channel_id}")
            stale = _on(channel_id)
            dropped = broker.drop_subscriptions(sessions, stale)
            broker.retained.drop(stale)
            if dropped:
                log.info("mqtt: channel %s removed: %d subscriptions dropped", channel_id, dropped)
        elif what is Revoked.UNKNOWN:
            broker.spawn(self._check_everything())

    async def _check_everything(self) -> None:
        """Check every live key and every (thing, channel) subscribed to again."""
        gate = asyncio.Semaphore(RECHECK_CONCURRENCY)
        broker = self.broker

        async def gated(check: Awaitable[None]) -> None:
            async with gate:
                await check

        pairs: dict[tuple[Any, str], str] = {}  # (thing, channel) -> one filter on it
        checks: list[Awaitable[None]] = []
        for thing_id, owned in list(broker.sessions.items()):
            for credentials, conns in self._live_credentials(thing_id).items():
                checks.append(self._check(thing_id, credentials, conns))
            for session in owned.values():
                for topic_filter in [*session.subscriptions, *broker.held.get(session, ())]:
                    channel = channel_of(topic_filter)
                    if channel:
                        pairs.setdefault((thing_id, channel), topic_filter)
        dropped = 0

        async def check_pair(thing_id: Any, channel: str, topic_filter: str) -> None:
            nonlocal dropped
            if await verdict(broker, thing_id, topic_filter) is False:
                dropped += broker.drop_subscriptions(broker.sessions_of(thing_id), _on(channel))

        checks.extend(check_pair(t, c, f) for (t, c), f in pairs.items())
        await asyncio.gather(*(gated(check) for check in checks))
        log.info(
            "mqtt: things events may have been missed: %d keys and %d subscribed channels "
            "checked again, %d subscriptions dropped",
            len(checks) - len(pairs),
            len(pairs),
            dropped,
        )

    def _live_credentials(self, thing_id: Any) -> dict[Credentials, list[Client]]:
        by_credentials: dict[Credentials, list[Client]] = {}
        for session in self.broker.sessions_of(thing_id):
            conn = session.conn
            if conn is not None and not conn.closed:
                by_credentials.setdefault(conn.credentials, []).append(conn)
        return by_credentials

    def _check_keys(self, thing_id: str) -> None:
        """Authenticate the thing's live connections again, once per distinct key."""
        for credentials, conns in self._live_credentials(thing_id).items():
            self.broker.spawn(self._check(thing_id, credentials, conns))

    async def _check(self, thing_id: str, credentials: Credentials, conns: list[Client]) -> None:
        username, password = credentials
        try:
            result = await self.broker.policy.authenticate(conns[0].client_id, username, password)
        except Exception as exc:  # a policy that fails cannot say the key stopped working
            log.warning("mqtt: checking the key of thing %s again failed: %s", thing_id, exc)
            return
        if not isinstance(result, int) and result == thing_id:
            return
        if result == codec.SERVER_UNAVAILABLE:
            log.info("mqtt: the key of thing %s could not be checked again; kept", thing_id)
            return
        live = [c for c in conns if not c.closed]
        for conn in live:
            self.broker.revoke_connection(conn, codec5.NOT_AUTHORIZED)
        if live:
            log.info(
                "mqtt: thing %s: its key no longer works; %d connections closed",
                thing_id,
                len(live),
            )


def _on(channel_id: str) -> Callable[[str], bool]:
    """Whether a topic or filter is on the channel ``channel_id``."""
    return lambda topic: channel_of(topic) == channel_id
