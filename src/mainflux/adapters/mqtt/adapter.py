"""The MQTT adapter assembled: broker, listeners, and (for Mainflux) policy, bridge, events.

:func:`build_adapter` is the composition the ``mainflux-mqtt`` service and the
all-in-one share; :func:`build_standalone` is the plain broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.mqtt import metrics
from mainflux.adapters.mqtt.bridge import Bridge
from mainflux.adapters.mqtt.broker import AllowAll, Broker
from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.events import CONNECT, DISCONNECT, ConnectionEvents
from mainflux.adapters.mqtt.journal import Journal
from mainflux.adapters.mqtt.limits import fit_to_descriptors
from mainflux.adapters.mqtt.persistence import StateStore
from mainflux.adapters.mqtt.policy import MainfluxPolicy
from mainflux.adapters.mqtt.restore import restore
from mainflux.adapters.mqtt.revocation import Revoker
from mainflux.adapters.mqtt.server import Listeners, tls_context
from mainflux.adapters.mqtt.settings import MqttSettings
from mainflux.adapters.mqtt.state import STATE_URL
from mainflux.adapters.mqtt.ws import create_ws_app
from mainflux.core.auth import ThingAccess
from mainflux.core.runner import StartupError, first_line
from mainflux.events.stream import EventStream
from mainflux.messaging.bus import Bus

log = logging.getLogger("mainflux.mqtt")


class AdapterHooks:
    """Broker hooks of the Mainflux adapter: accepted messages to the bridge, events."""

    def __init__(self, bridge: Bridge | None, events: ConnectionEvents | None) -> None:
        self._bridge = bridge
        self._events = events
        if bridge is None:
            self.published = self._no_bridge  # type: ignore[method-assign]

    def published(self, principal: Any, message: Publish) -> asyncio.Future[None] | None:
        """Hand the message to the bus bridge."""
        return self._bridge.outbound(principal, message)  # type: ignore[union-attr,return-value]

    def _no_bridge(self, principal: Any, message: Publish) -> None:
        return None

    def connected(self, principal: Any, client_id: str) -> None:
        """Record a ``connect`` event."""
        if self._events is not None:
            self._events.record(str(principal), CONNECT)

    def disconnected(self, principal: Any, client_id: str) -> None:
        """Record a ``disconnect`` event."""
        if self._events is not None:
            self._events.record(str(principal), DISCONNECT)


class MqttAdapter:
    """A broker with its listeners and helpers; ``start()`` then ``stop()``."""

    def __init__(
        self,
        broker: Broker,
        settings: MqttSettings,
        *,
        bridge: Bridge | None = None,
        events: ConnectionEvents | None = None,
        access: CachedThingAccess | None = None,
        revoker: Revoker | None = None,
        state: StateStore | None = None,
    ) -> None:
        """``access`` is an access cache this adapter owns (it tails the things events
        while the adapter runs); ``revoker`` applies revocations to the broker;
        ``state`` keeps sessions and retained messages across restarts (the adapter
        closes it)."""
        self.broker = broker
        self.settings = settings
        self.bridge = bridge
        self.events = events
        self.access = access
        self.revoker = revoker
        self.listeners = Listeners(broker, settings.http)
        self.state = state
        self.journal: Journal | None = None
        self._invalidation: asyncio.Task[None] | None = None

    @property
    def ports(self) -> dict[str, int]:
        """Bound ports by listener: ``mqtt``, ``mqtts``, ``ws`` (once started)."""
        return self.listeners.status()

    def create_ws_app(self) -> Any:
        """The MQTT-over-WebSocket ASGI app, for mounting at ``/mqtt`` on a gateway."""
        return create_ws_app(self.broker)

    async def start(self) -> None:
        """Start the broker, bridge, events and every configured listener.

        Raises ``StartupError`` naming the setting of a busy port or a bad certificate."""
        s = self.settings
        self.broker.limits = fit_to_descriptors(self.broker.limits)
        await self.broker.start()
        metrics.track(self.broker)
        if self.revoker is not None:
            self.revoker.start()
        if self.events is not None:
            await self.events.start()
        if self.access is not None:
            self._invalidation = asyncio.create_task(self.access.run())
        try:
            if self.state is not None:  # before messages can arrive from the bus
                await self._restore(self.state)
            if self.bridge is not None:
                await self.bridge.start()
            if s.mqtt_port is not None:
                await self.listeners.tcp(s.host, s.mqtt_port, "MF_MQTT_ADAPTER_MQTT_PORT")
            if s.tls_enabled and s.tls_port is not None:
                context = tls_context(s.server_cert, s.server_key, "MF_MQTT_ADAPTER_SERVER_CERT")
                await self.listeners.tcp(
                    s.host, s.tls_port, "MF_MQTT_ADAPTER_TLS_PORT", context, name="mqtts"
                )
            if s.ws_port is not None:
                await self.listeners.websocket(s.ws_host, s.ws_port, "MF_MQTT_ADAPTER_WS_PORT")
        except BaseException:
            await self.stop()
            raise

    async def _restore(self, state: StateStore) -> None:
        """Read the state back into the broker (before any client can connect)."""
        journal = Journal(state)
        try:
            done = await restore(self.broker, state, journal)
        except Exception as exc:
            await journal.close()
            raise StartupError(
                f"{STATE_URL}{'' if self.settings.state_url else ' (unset: the default store)'}"
                f": cannot read the broker's state: {first_line(exc)}"
            ) from None
        self.journal = journal
        log.info(
            "mqtt: restored %d sessions (%d subscriptions, %d queued messages) and %d "
            "retained messages; %d subscriptions held until the things service answers, "
            "%d refused, %d entries beyond a bound, %d unreadable",
            done.sessions,
            done.subscriptions,
            done.queued,
            done.retained,
            done.held,
            done.refused,
            done.over_bounds,
            done.unreadable,
        )

    async def stop(self) -> None:
        """Stop listening, close every client (wills of clients are not sent), flush
        the state still to be stored."""
        metrics.untrack(self.broker)
        await self.listeners.close()
        if self.revoker is not None:
            self.revoker.stop()
        await self.broker.stop()
        if self.journal is not None:
            await self.journal.close()
            self.journal = None
        if self.state is not None:
            await self.state.close()
            self.state = None
        if self.bridge is not None:
            await self.bridge.stop()
        if self.events is not None:
            await self.events.stop()
        if self._invalidation is not None:
            self._invalidation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._invalidation
            self._invalidation = None


def build_adapter(
    access: ThingAccess,
    bus: Bus | None,
    events: EventStream | None,
    settings: MqttSettings,
    *,
    things_events: EventStream | None = None,
    state: StateStore | None = None,
) -> MqttAdapter:
    """The Mainflux MQTT adapter.

    ``access`` answers thing questions. A :class:`CachedThingAccess` is used as given
    and left to its owner (e.g. :func:`mainflux.adapters.runtime.open_access`, which
    tails its events); anything else is wrapped in a cache that this adapter owns and
    runs, tailing ``things_events`` for invalidation while it runs. ``bus`` gets
    every accepted message and feeds other protocols' messages back (``None``: no
    bridge); ``events`` receives the ``mainflux.mqtt`` connect/disconnect entries.
    Revocations the cache learns of (a thing removed or disconnected, a key changed, a
    channel removed) reach live and absent sessions (see
    :mod:`~mainflux.adapters.mqtt.revocation`)."""
    owned: CachedThingAccess | None = None
    if not isinstance(access, CachedThingAccess):
        access = owned = CachedThingAccess(access, things_events)
    connection_events = ConnectionEvents(events, settings.instance) if events else None
    broker = Broker(MainfluxPolicy(access), settings.limits)
    bridge = Bridge(broker, bus) if bus is not None else None
    broker.hooks = AdapterHooks(bridge, connection_events)
    return MqttAdapter(
        broker,
        settings,
        bridge=bridge,
        events=connection_events,
        access=owned,
        revoker=Revoker(broker, access),
        state=state,
    )


def build_standalone(settings: MqttSettings, state: StateStore | None = None) -> MqttAdapter:
    """A plain broker: anyone may connect, publish and subscribe, except to the
    filters of ``settings.standalone_refused_filters``; ``state`` keeps its sessions
    and retained messages across restarts."""
    policy = AllowAll(settings.standalone_refused_filters)
    return MqttAdapter(Broker(policy, settings.limits), settings, state=state)
