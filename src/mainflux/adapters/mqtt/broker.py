"""The broker engine: sessions, routing, retained messages, wills, and the bounds.

It knows nothing of Mainflux. Who may connect, subscribe and publish is asked of a
:class:`Policy`; what happens to accepted messages besides local delivery (the bus
bridge) and to connects/disconnects (events) is told to :class:`Hooks`.

Clients of MQTT 3.1.1 and of MQTT 5 share it: a version 5 session may outlive its
connection for a while (session expiry interval) rather than for ever, its will may be
delayed, and its subscriptions carry options (see :mod:`~mainflux.adapters.mqtt.session`)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from mainflux.adapters.mqtt import codec5
from mainflux.adapters.mqtt.codec import Publish, Will
from mainflux.adapters.mqtt.connection import Connection
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.retained import RetainedStore
from mainflux.adapters.mqtt.session import Session
from mainflux.adapters.mqtt.topics import TopicTree

log = logging.getLogger("mainflux.mqtt")

Answer = bool | Awaitable[bool]


class Policy(Protocol):
    """Decides who may connect, subscribe and publish.

    The authorize methods may answer at once (a ``bool``) or with an awaitable when the
    answer has to be looked up; answering at once keeps the message path fast."""

    async def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> Any:
        """Return the client's principal, or an ``int`` CONNACK return code to refuse."""
        ...

    def authorize_subscribe(self, principal: Any, topic_filter: str) -> Answer:
        """Whether the principal may subscribe to ``topic_filter`` (no: SUBACK 0x80)."""
        ...

    def authorize_publish(self, principal: Any, topic: str) -> Answer:
        """Whether the principal may publish on ``topic`` (no: dropped, disconnected)."""
        ...


class Hooks(Protocol):
    """What the broker tells the outside world."""

    def published(self, principal: Any, message: Publish) -> Awaitable[Any] | None:
        """An accepted PUBLISH (or will). Return an awaitable to hold the sender back."""
        ...

    def connected(self, principal: Any, client_id: str) -> None:
        """A client was accepted."""
        ...

    def disconnected(self, principal: Any, client_id: str) -> None:
        """An accepted client went away, cleanly or not."""
        ...


class NoHooks:
    """Hooks that do nothing: a plain broker."""

    def published(self, principal: Any, message: Publish) -> None:
        return None

    def connected(self, principal: Any, client_id: str) -> None:
        return None

    def disconnected(self, principal: Any, client_id: str) -> None:
        return None


class AllowAll:
    """A policy that lets everyone in, except subscriptions to ``refused_filters``.

    An MQTT 5 client is told 0x80 (unspecified error) for a refused filter, as the
    Eclipse Paho interoperability suite expects; a policy without
    ``subscribe_refusal`` refuses with 0x87 (not authorized)."""

    subscribe_refusal = 0x80

    def __init__(self, refused_filters: tuple[str, ...] = ()) -> None:
        self.refused_filters = frozenset(refused_filters)

    async def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> Any:
        return client_id

    def authorize_subscribe(self, principal: Any, topic_filter: str) -> Answer:
        return topic_filter not in self.refused_filters

    def authorize_publish(self, principal: Any, topic: str) -> Answer:
        return True


class BrokerStats:
    """Counters of what the broker did and refused."""

    __slots__ = (
        "connections_refused",
        "dropped_qos0",
        "keepalive_timeouts",
        "messages_in",
        "protocol_errors",
        "refused_publishes",
        "slow_disconnects",
        "too_large_dropped",
    )

    def __init__(self) -> None:
        self.connections_refused = 0
        self.dropped_qos0 = 0
        self.keepalive_timeouts = 0
        self.messages_in = 0
        self.protocol_errors = 0
        self.refused_publishes = 0
        self.slow_disconnects = 0
        self.too_large_dropped = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}


class Broker:
    """An MQTT 3.1.1 and 5 broker core; serve it with :meth:`protocol` as the protocol
    factory."""

    def __init__(
        self,
        policy: Policy,
        limits: BrokerLimits | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.policy = policy
        self.limits = limits or BrokerLimits()
        self.hooks: Hooks = hooks or NoHooks()
        self.stats = BrokerStats()
        self.tick = 0
        self.connections: set[Connection] = set()
        self.sessions: dict[str, Session] = {}
        self.tree: TopicTree[Session] = TopicTree()
        self.retained = RetainedStore(
            self.limits.max_retained_count, self.limits.max_retained_bytes
        )
        self._offline: dict[str, Session] = {}
        self._expiring: list[tuple[float, str]] = []  # (expires_at, client id), a heap
        self._wills: dict[str, asyncio.TimerHandle] = {}  # delayed wills by client id
        self._dirty: list[Connection] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the once-a-second sweep (keepalive, slow clients, connect timeout)."""
        self._loop = asyncio.get_running_loop()
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        """Close every connection and stop the sweep."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for conn in list(self.connections):
            conn.will = None
            conn.shutdown(codec5.SERVER_SHUTTING_DOWN)
        for handle in self._wills.values():
            handle.cancel()
        self._wills.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def protocol(self) -> Connection:
        """A new connection handler (an asyncio protocol factory)."""
        return Connection(self)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in a task the broker keeps until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        limits = self.limits
        while True:
            await asyncio.sleep(1.0)
            self.tick += 1
            tick = self.tick
            if self._expiring:
                self._expire_sessions()
            for conn in list(self.connections):
                if conn.closed:
                    continue
                if not conn.connected:
                    if tick - conn.opened > limits.connect_timeout:
                        conn.abort()
                    continue
                if conn.keepalive and tick - conn.last_seen > conn.keepalive * 1.5:
                    self.stats.keepalive_timeouts += 1
                    log.info("mqtt: client %s missed its keepalive", conn.client_id)
                    conn.shutdown(codec5.KEEP_ALIVE_TIMEOUT)
                elif (
                    conn.blocked
                    and conn.blocked_since
                    and tick - conn.blocked_since > limits.slow_client_timeout
                ):
                    self.stats.slow_disconnects += 1
                    log.info("mqtt: client %s stayed too slow; disconnecting", conn.client_id)
                    conn.abort()
                elif conn.blocked and not conn.blocked_since:
                    conn.blocked_since = tick

    # --- connections and sessions -------------------------------------------------------

    def admit(self, conn: Connection) -> bool:
        """Take a new connection unless the broker is at its connection limit."""
        if len(self.connections) >= self.limits.max_connections:
            self.stats.connections_refused += 1
            return False
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        conn.last_seen = conn.opened = self.tick
        self.connections.add(conn)
        return True

    def attach(self, conn: Connection, clean: bool, expiry: int | None = -1) -> bool:
        """Bind ``conn`` to its client id's session, taking over any live connection.

        ``clean`` starts a new session; ``expiry`` is how long (seconds; ``None``: for
        ever) the session outlives the connection, by default as 3.1.1 says (not at
        all when clean, else for ever). Returns whether a previous session was resumed
        (CONNACK session present)."""
        client_id = conn.client_id
        if expiry == -1:
            expiry = 0 if clean else None
        old = self.sessions.get(client_id)
        if old is not None and old.conn is not None and old.conn is not conn:
            previous = old.conn
            old.conn = None
            log.info("mqtt: client id %s taken over by a new connection", client_id)
            previous.shutdown(codec5.SESSION_TAKEN_OVER)
        delayed = self._wills.pop(client_id, None)
        if delayed is not None:
            delayed.cancel()
        self._offline.pop(client_id, None)
        if old is not None and (clean or old.clean or 0.0 < old.expires_at <= time.monotonic()):
            self._discard(old)
            old = None
        present = old is not None
        session = old or Session(
            client_id, clean, self.limits.max_inflight, self.limits.max_offline_queue
        )
        session.expiry = expiry
        session.clean = expiry == 0
        session.expires_at = 0.0
        session.conn = conn
        conn.session = session
        self.sessions[client_id] = session
        return present

    def set_expiry(self, session: Session, expiry: int | None) -> None:
        """Change how long ``session`` outlives its connection (version 5 DISCONNECT)."""
        session.expiry = expiry
        session.clean = expiry == 0

    def connected(self, conn: Connection) -> None:
        """Tell the hooks a client was accepted."""
        self.hooks.connected(conn.principal, conn.client_id)

    def release(self, conn: Connection) -> None:
        """A connection ended: publish its will, park or drop its session."""
        self.connections.discard(conn)
        if not conn.connected:
            return
        conn.connected = False
        will = conn.will
        conn.will = None
        session = conn.session
        kept = session is not None and session.conn is conn and not session.clean
        if will is not None:
            delay = getattr(will, "delay", 0)
            if delay and kept and session is not None:
                if session.expiry is not None:
                    delay = min(delay, session.expiry)
                self._delay_will(conn.principal, conn.client_id, will, delay)
            else:
                self._publish_will(conn.principal, _will_message(will, conn.client_id))
        if session is not None and session.conn is conn:
            session.conn = None
            if session.clean:
                self._discard(session)
            else:
                self._offline[session.client_id] = session
                if session.expiry is not None:
                    session.expires_at = time.monotonic() + session.expiry
                    heapq.heappush(self._expiring, (session.expires_at, session.client_id))
                if len(self._offline) > self.limits.max_sessions:
                    oldest = next(iter(self._offline))
                    self._discard(self._offline.pop(oldest))
        self.hooks.disconnected(conn.principal, conn.client_id)

    def _delay_will(self, principal: Any, client_id: str, will: Will, delay: float) -> None:
        """Publish ``will`` after ``delay`` seconds unless the client comes back."""
        loop = self._loop or asyncio.get_running_loop()

        def publish() -> None:
            if self._wills.pop(client_id, None) is not None:
                self._publish_will(principal, _will_message(will, client_id))

        old = self._wills.pop(client_id, None)
        if old is not None:
            old.cancel()
        self._wills[client_id] = loop.call_later(delay, publish)

    def _expire_sessions(self) -> None:
        """Drop absent sessions whose expiry interval has passed."""
        now = time.monotonic()
        expiring = self._expiring
        while expiring and expiring[0][0] <= now:
            _, client_id = heapq.heappop(expiring)
            session = self._offline.get(client_id)
            if session is not None and 0.0 < session.expires_at <= now:
                self._discard(session)

    def _publish_will(self, principal: Any, message: Publish) -> None:
        answer = self.policy.authorize_publish(principal, message.topic)
        if answer is True:
            self._deliver_accepted(principal, message)
        elif answer is not False:
            self.spawn(self._will_when(answer, principal, message))

    async def _will_when(self, answer: Awaitable[bool], principal: Any, message: Publish) -> None:
        if await answer:
            self._deliver_accepted(principal, message)

    def _deliver_accepted(self, principal: Any, message: Publish) -> None:
        self.route(message)
        gate = self.hooks.published(principal, message)
        if gate is not None:
            self.spawn(_wait(gate))

    def _discard(self, session: Session) -> None:
        for topic_filter in session.subscriptions:
            self.tree.unsubscribe(topic_filter, session)
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
        if self._offline.get(session.client_id) is session:
            del self._offline[session.client_id]

    # --- messages ---------------------------------------------------------------------

    def accept(self, conn: Connection, message: Publish) -> Awaitable[Any] | None:
        """Route a client's authorized PUBLISH and hand it to the hooks."""
        self.stats.messages_in += 1
        self.route(message)
        return self.hooks.published(conn.principal, message)

    def route(self, message: Publish) -> None:
        """Deliver to every matching local subscriber; keep it if it is retained."""
        if message.retain:
            self.retained.put(message)
        qos = message.qos
        for session, granted in self.tree.match(message.topic):
            session.deliver(message, granted if granted < qos else qos)

    def subscribe(self, session: Session, topic_filter: str, qos: int, options: int = 0) -> None:
        """Add a subscription and send the retained messages it matches.

        ``options`` are the other bits of a version 5 subscription options byte, and
        the subscription identifier from bit 8 on: no local (0x04), retain as
        published (0x08) and the identifier are kept for delivery; retain handling
        (bits 4-5) says whether retained messages are sent: 0 always, 1 only for a new
        subscription, 2 never."""
        existed = topic_filter in session.subscriptions
        session.subscriptions[topic_filter] = qos
        self.tree.subscribe(topic_filter, session, qos)
        flags = options & ~0x33
        if flags:
            if session.options is None:
                session.options = {}
            session.options[topic_filter] = flags
        elif session.options:
            session.options.pop(topic_filter, None)
        handling = (options >> 4) & 0x03
        if handling == 2 or (handling == 1 and existed):
            return
        ident = options >> 8
        for message in self.retained.matching(topic_filter):
            if ident:
                message = codec5.with_subscription_ids(message, [ident])
            session.deliver(message, min(qos, message.qos), True)

    def unsubscribe(self, session: Session, topic_filter: str) -> bool:
        """Remove a subscription; return whether it existed."""
        if session.subscriptions.pop(topic_filter, None) is None:
            return False
        self.tree.unsubscribe(topic_filter, session)
        if session.options:
            session.options.pop(topic_filter, None)
        return True

    # --- output -----------------------------------------------------------------------

    def mark_dirty(self, conn: Connection) -> None:
        """``conn`` has output this turn; flush every such connection once, soon."""
        self._dirty.append(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        dirty = self._dirty
        self._dirty = []
        for conn in dirty:
            conn.flush()


def _will_message(will: Will, client_id: str) -> Publish:
    if isinstance(will, codec5.Will5):
        return will.message(client_id)
    return Publish(will.topic, will.payload, will.qos, will.retain)


async def _wait(gate: Awaitable[Any]) -> None:
    await gate


def serve_callback(broker: Broker) -> Callable[[], Connection]:
    """The protocol factory for ``loop.create_server``."""
    return broker.protocol
