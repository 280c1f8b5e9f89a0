"""The broker engine: sessions, routing, retained messages, wills, and the bounds.

It knows nothing of Mainflux. Who may connect, subscribe and publish is asked of a
:class:`Policy`; what happens to accepted messages besides local delivery (the bus
bridge) and to connects/disconnects (events) is told to :class:`Hooks`.

Sessions belong to the principal the policy authenticated (for Mainflux, the thing)
and the client id together: the same client id under two principals is two unrelated
sessions, and a client can take over (and inherit) only a session of its own
principal. The sessions of a principal are indexed, so a revocation (see
:mod:`~mainflux.adapters.mqtt.revocation`) finds them without a scan and the message
path pays nothing for it.

Clients of MQTT 3.1.1 and of MQTT 5 share it: a version 5 session may outlive its
connection for a while (session expiry interval) rather than for ever, its will may be
delayed, and its subscriptions carry options (see :mod:`~mainflux.adapters.mqtt.session`).

With a journal (:meth:`Broker.keep_state`), persistent sessions and retained messages
are recorded as they change, and a QoS 1/2 PUBLISH that changed them is acknowledged
once they are stored (see :mod:`~mainflux.adapters.mqtt.persistence`).

The broker sees each connection as a :class:`~mainflux.adapters.mqtt.session.Client`;
the connections themselves (:mod:`~mainflux.adapters.mqtt.connection`) are built on top
of it and are made by the listeners."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Protocol

from mainflux.adapters.mqtt import codec5
from mainflux.adapters.mqtt.codec import Publish, Will
from mainflux.adapters.mqtt.journal import Journal
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.notices import Notices
from mainflux.adapters.mqtt.retained import RetainedStore
from mainflux.adapters.mqtt.session import Client, Session
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
        "connect_timeouts",
        "connections_refused",
        "dropped_qos0",
        "handshakes_dropped",
        "keepalive_timeouts",
        "messages_in",
        "protocol_errors",
        "refused_publishes",
        "resent",
        "revoked_connections",
        "revoked_subscriptions",
        "slow_disconnects",
        "too_large_dropped",
    )

    def __init__(self) -> None:
        self.connect_timeouts = 0
        self.connections_refused = 0
        self.dropped_qos0 = 0
        self.handshakes_dropped = 0
        self.keepalive_timeouts = 0
        self.messages_in = 0
        self.protocol_errors = 0
        self.refused_publishes = 0
        self.resent = 0
        self.revoked_connections = 0
        self.revoked_subscriptions = 0
        self.slow_disconnects = 0
        self.too_large_dropped = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return {name: getattr(self, name) for name in self.__slots__}


class Broker:
    """An MQTT 3.1.1 and 5 broker core; serve it with
    :func:`~mainflux.adapters.mqtt.handshake.connection_factory` as the protocol
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
        self.notices = Notices()
        self.tick = 0
        self.epoch = 0  # bumped by every revocation: a check that waited is asked again
        self.connections: set[Client] = set()
        self.handshakes: dict[Client, None] = {}  # admitted, not accepted yet; oldest first
        self.sessions: dict[Any, dict[str, Session]] = {}  # principal -> client id -> session
        self.tree: TopicTree[Session] = TopicTree()
        self.retained = RetainedStore(
            self.limits.max_retained_count, self.limits.max_retained_bytes
        )
        self._offline: dict[Session, None] = {}  # absent sessions, longest away first
        self._expiring: list[tuple[float, int, Session]] = []  # (expires_at, n, session), a heap
        self._order = itertools.count()
        self._wills: dict[tuple[Any, str], asyncio.TimerHandle] = {}  # delayed, by session key
        self._dirty: list[Client] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.journal: Journal | None = None  # where persistent state goes (see keep_state)
        # restored subscriptions waiting for the policy's verdict: kept out of the tree
        self.held: dict[Session, dict[str, tuple[int, int]]] = {}

    def keep_state(self, journal: Journal) -> None:
        """Record every change of persistent sessions and retained messages in
        ``journal`` from now on (see :mod:`~mainflux.adapters.mqtt.persistence`)."""
        self.journal = journal
        self.retained.changed = journal.retain

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
            retry = limits.retry_interval
            before = time.monotonic() - retry
            for conn in list(self.handshakes):
                # One whose CONNECT arrived is being authenticated: that ends by itself
                # (MF_THINGS_AUTH_DEADLINE bounds a wait for a slow things service).
                if (
                    not conn.closed
                    and not conn.connecting
                    and tick - conn.opened > limits.connect_timeout
                ):
                    self.stats.connect_timeouts += 1
                    self.notices.refused("no CONNECT in time (MF_MQTT_ADAPTER_CONNECT_TIMEOUT)")
                    conn.abort()
            for conn in list(self.connections):
                if conn.closed or not conn.connected:
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
                elif retry and conn.resend_inflight:
                    session = conn.session
                    if session is not None and session.inflight and session.conn is conn:
                        self.stats.resent += session.resend_due(before)

    # --- connections and sessions -------------------------------------------------------

    def admit(self, conn: Client) -> bool:
        """Take a new connection unless the broker is at its connection limit. When
        ``max_pending_connections`` have not finished their CONNECT yet, the oldest of
        them (the likeliest to be silent: a real client's handshake takes moments) is
        dropped to make room."""
        limits = self.limits
        if len(self.connections) >= limits.max_connections:
            self.stats.connections_refused += 1
            self.notices.refused("connection limit reached (MF_MQTT_ADAPTER_MAX_CONNECTIONS)")
            return False
        if len(self.handshakes) >= limits.max_pending_connections:
            self.stats.handshakes_dropped += 1
            self.notices.refused(
                "oldest connection without CONNECT dropped "
                "(MF_MQTT_ADAPTER_MAX_PENDING_CONNECTIONS)"
            )
            next(iter(self.handshakes)).abort()
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        conn.last_seen = conn.opened = self.tick
        self.connections.add(conn)
        self.handshakes[conn] = None
        return True

    @property
    def delayed_wills(self) -> int:
        """Wills waiting for their delay (or for their client to come back)."""
        return len(self._wills)

    def session(self, principal: Any, client_id: str) -> Session | None:
        """The session of ``client_id`` under ``principal``, live or absent."""
        owned = self.sessions.get(principal)
        return owned.get(client_id) if owned is not None else None

    def sessions_of(self, principal: Any) -> list[Session]:
        """Every session (live or absent) of ``principal``."""
        return list(self.sessions.get(principal, {}).values())

    def make_room(self, principal: Any, client_id: str) -> bool:
        """Whether ``principal`` may have a session for ``client_id``: yes when it has
        one already or fewer than ``max_sessions_per_thing``; else its absent session
        that has been away longest is discarded to make room, and when all of them are
        live the answer is no."""
        owned = self.sessions.get(principal)
        if owned is None or client_id in owned:
            return True
        if len(owned) < self.limits.max_sessions_per_thing:
            return True
        for session in owned.values():
            if session.conn is None:
                self._discard(session)
                return True
        return False

    def attach(self, conn: Client, clean: bool, expiry: int | None = -1) -> bool:
        """Bind ``conn`` to the session of its principal and client id, taking over
        that session's live connection (never another principal's).

        ``clean`` starts a new session; ``expiry`` is how long (seconds; ``None``: for
        ever) the session outlives the connection, by default as 3.1.1 says (not at
        all when clean, else for ever). Returns whether a previous session was resumed
        (CONNACK session present)."""
        principal, client_id = conn.principal, conn.client_id
        self.handshakes.pop(conn, None)
        if expiry == -1:
            expiry = 0 if clean else None
        old = self.session(principal, client_id)
        if old is not None and old.conn is not None and old.conn is not conn:
            previous = old.conn
            old.conn = None
            log.info("mqtt: client id %s taken over by a new connection", client_id)
            previous.shutdown(codec5.SESSION_TAKEN_OVER)
        delayed = self._wills.pop((principal, client_id), None)
        if delayed is not None:
            delayed.cancel()
        if old is not None:
            self._offline.pop(old, None)
        if old is not None and (clean or old.clean or 0.0 < old.expires_at <= time.monotonic()):
            self._discard(old)
            old = None
        present = old is not None
        limits = self.limits
        session = old or Session(
            principal,
            client_id,
            clean,
            limits.max_inflight,
            limits.max_offline_queue,
            limits.max_offline_queue_bytes,
        )
        session.expiry = expiry
        session.clean = expiry == 0
        session.expires_at = 0.0
        session.conn = conn
        conn.session = session
        self.sessions.setdefault(principal, {})[client_id] = session
        journal = self.journal
        if journal is not None:
            if not session.clean:
                session.journal = journal
                journal.save_session(principal, client_id, expiry, 0.0)
            elif session.journal is not None:
                session.journal = None
                journal.drop_session(principal, client_id)
        return present

    def adopt(
        self, owner: Any, client_id: str, expiry: int | None, remaining: float | None
    ) -> Session | None:
        """An absent persistent session read back from storage, ending ``remaining``
        seconds from now (``None``: never); ``None`` when it does not fit the bounds
        (``max_sessions``, ``max_sessions_per_thing``) or exists already."""
        limits = self.limits
        owned = self.sessions.get(owner)
        if owned is not None and (
            client_id in owned or len(owned) >= limits.max_sessions_per_thing
        ):
            return None
        if len(self._offline) >= limits.max_sessions:
            return None
        session = Session(
            owner,
            client_id,
            False,
            limits.max_inflight,
            limits.max_offline_queue,
            limits.max_offline_queue_bytes,
        )
        session.expiry = expiry
        self.sessions.setdefault(owner, {})[client_id] = session
        self._offline[session] = None
        if remaining is not None:
            session.expires_at = time.monotonic() + remaining
            heapq.heappush(self._expiring, (session.expires_at, next(self._order), session))
        return session

    def set_expiry(self, session: Session, expiry: int | None) -> None:
        """Change how long ``session`` outlives its connection (version 5 DISCONNECT)."""
        session.expiry = expiry
        session.clean = expiry == 0

    def connected(self, conn: Client) -> None:
        """Tell the hooks a client was accepted."""
        self.hooks.connected(conn.principal, conn.client_id)

    def release(self, conn: Client) -> None:
        """A connection ended: publish its will, park or drop its session."""
        self.connections.discard(conn)
        self.handshakes.pop(conn, None)
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
                self._delay_will(session, will, delay)
            else:
                self._publish_will(conn.principal, _will_message(will, session))
        if session is not None and session.conn is conn:
            session.conn = None
            if session.clean:
                self._discard(session)
            else:
                self._park(session)
        self.hooks.disconnected(conn.principal, conn.client_id)

    def _park(self, session: Session) -> None:
        """Keep an absent persistent session (its owner's, and the broker's, bounds)."""
        owned = self.sessions.get(session.owner)
        if owned is None or owned.get(session.client_id) is not session:
            return  # discarded meanwhile
        self._offline[session] = None
        del owned[session.client_id]  # to the end: its owner's longest-away come first
        owned[session.client_id] = session
        if session.expiry is not None:
            session.expires_at = time.monotonic() + session.expiry
            heapq.heappush(self._expiring, (session.expires_at, next(self._order), session))
            if session.journal is not None:
                away = time.time() + session.expiry
                session.journal.save_session(session.owner, session.client_id, session.expiry, away)
        if len(self._offline) > self.limits.max_sessions:
            self._discard(next(iter(self._offline)))

    def _delay_will(self, session: Session, will: Will, delay: float) -> None:
        """Publish ``will`` after ``delay`` seconds unless the client comes back."""
        loop = self._loop or asyncio.get_running_loop()
        key = (session.owner, session.client_id)

        def publish() -> None:
            if self._wills.pop(key, None) is not None:
                self._publish_will(session.owner, _will_message(will, session))

        old = self._wills.pop(key, None)
        if old is not None:
            old.cancel()
        self._wills[key] = loop.call_later(delay, publish)

    def _expire_sessions(self) -> None:
        """Drop absent sessions whose expiry interval has passed."""
        now = time.monotonic()
        expiring = self._expiring
        while expiring and expiring[0][0] <= now:
            session = heapq.heappop(expiring)[2]
            if session in self._offline and 0.0 < session.expires_at <= now:
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
        self.held.pop(session, None)
        if session.journal is not None:
            session.journal.drop_session(session.owner, session.client_id)
            session.journal = None
        owned = self.sessions.get(session.owner)
        if owned is not None and owned.get(session.client_id) is session:
            del owned[session.client_id]
            if not owned:
                del self.sessions[session.owner]
        self._offline.pop(session, None)

    # --- revocation -------------------------------------------------------------------

    def revoke_connection(self, conn: Client, code: int) -> None:
        """Close ``conn`` because its principal lost the right to it: no will is
        published, and a version 5 client gets DISCONNECT ``code`` first."""
        if conn.closed:
            return
        self.stats.revoked_connections += 1
        conn.will = None
        conn.shutdown(code)

    def end_principal(self, principal: Any, code: int) -> tuple[int, int]:
        """Close every connection of ``principal`` (as :meth:`revoke_connection`) and
        discard all its sessions and delayed wills; returns ``(connections, sessions)``."""
        self.epoch += 1
        sessions = self.sessions_of(principal)
        closed = 0
        for session in sessions:
            conn = session.conn
            if conn is not None:
                session.conn = None
                closed += not conn.closed
                self.revoke_connection(conn, code)
            handle = self._wills.pop((principal, session.client_id), None)
            if handle is not None:
                handle.cancel()
            self._discard(session)
        return closed, len(sessions)

    def subscribers_under(self, prefix: str) -> set[Session]:
        """Sessions (live or absent) with a subscription whose filter starts with the
        topic levels of ``prefix`` (no wildcards in ``prefix``)."""
        found = self.tree.keys_under(prefix)
        levels = prefix + "/"
        for session, held in self.held.items():
            if any(f == prefix or f.startswith(levels) for f in held):
                found.add(session)
        return found

    def drop_subscriptions(self, sessions: Iterable[Session], stale: Callable[[str], bool]) -> int:
        """Remove the subscriptions of ``sessions`` whose filter is ``stale``, and their
        queued messages whose topic is; returns how many subscriptions went."""
        self.epoch += 1
        dropped = 0
        for session in sessions:
            filters = [*session.subscriptions, *self.held.get(session, ())]
            for topic_filter in [f for f in filters if stale(f)]:
                self.unsubscribe(session, topic_filter)
                dropped += 1
            session.forget(stale)
        self.stats.revoked_subscriptions += dropped
        return dropped

    # --- messages ---------------------------------------------------------------------

    def accept(self, conn: Client, message: Publish) -> Awaitable[Any] | None:
        """Route a client's authorized PUBLISH and hand it to the hooks."""
        self.stats.messages_in += 1
        journal = self.journal
        if journal is None or not message.qos:
            self.route(message)
            return self.hooks.published(conn.principal, message)
        changes = journal.changes
        self.route(message)
        gate = self.hooks.published(conn.principal, message)
        if journal.changes == changes:
            return gate
        # Stored state changed (queued for a persistent session, retained): the
        # publisher is acknowledged once that is stored.
        durable = asyncio.shield(journal.durable())
        return durable if gate is None else _both(gate, durable)

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
        held = self.held.get(session)
        stored = held.pop(topic_filter, None) is not None if held is not None else False
        if session.journal is not None:
            new = not (existed or stored)
            journal = session.journal
            journal.subscribe(session.owner, session.client_id, topic_filter, qos, flags, new)
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
        held = self.held.get(session)
        if held is not None and held.pop(topic_filter, None) is not None:
            if session.journal is not None:
                session.journal.unsubscribe(session.owner, session.client_id, topic_filter)
            return True
        if session.subscriptions.pop(topic_filter, None) is None:
            return False
        self.tree.unsubscribe(topic_filter, session)
        if session.options:
            session.options.pop(topic_filter, None)
        if session.journal is not None:
            session.journal.unsubscribe(session.owner, session.client_id, topic_filter)
        return True

    # --- output -----------------------------------------------------------------------

    def mark_dirty(self, conn: Client) -> None:
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


def _will_message(will: Will, session: Session | None) -> Publish:
    if isinstance(will, codec5.Will5):
        return will.message(session)
    return Publish(will.topic, will.payload, will.qos, will.retain)


async def _wait(gate: Awaitable[Any]) -> None:
    await gate


async def _both(gate: Awaitable[Any], durable: Awaitable[Any]) -> None:
    await gate
    await durable
