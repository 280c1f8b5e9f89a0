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
  and the channel's retained messages are forgotten.

Sessions are found through the broker's indexes (principal -> sessions, and the
subscription tree below ``channels/<id>``), so the message path pays nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mainflux.adapters.access import CachedThingAccess, Revocation, Revoked
from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.policy import channel_of
from mainflux.adapters.mqtt.session import Client

log = logging.getLogger("mainflux.mqtt")

Credentials = tuple[str | None, bytes | None]


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

    def _check_keys(self, thing_id: str) -> None:
        """Authenticate the thing's live connections again, once per distinct key."""
        by_credentials: dict[Credentials, list[Client]] = {}
        for session in self.broker.sessions_of(thing_id):
            conn = session.conn
            if conn is not None and not conn.closed:
                by_credentials.setdefault(conn.credentials, []).append(conn)
        for credentials, conns in by_credentials.items():
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
