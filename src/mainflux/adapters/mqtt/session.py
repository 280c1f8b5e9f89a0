"""A client's session: subscriptions, messages in flight, and the queue behind them.

A session belongs to its owner (the authenticated principal: for Mainflux, the thing)
and a client id: the same client id under two owners is two unrelated sessions.
It outlives its connection when the client asked for a persistent one
(clean session 0): its subscriptions keep matching, and QoS 1/2 messages wait in a
queue bounded in messages and bytes until the client comes back. Messages in flight (sent, not yet
acknowledged) are sent again, flagged DUP, on reconnect, and (MQTT 3.1.1 only) when they
stay unacknowledged past the broker's retry interval. A persistent session records its
messages in the broker's :class:`~mainflux.adapters.mqtt.journal.Journal` (``journal``),
so they survive a restart until the client acknowledges them.

While a version 5 client holds a session, its deliveries honour the subscription options
(no local, retain as published, subscription identifiers) and its receive maximum bounds
the messages in flight; a 3.1.1 client's do not (the options stay for a version 5 client
that resumes the session). A queued message whose expiry interval passed is dropped.

A session sees its connection as a :class:`Client`: the broker's side of one client
connection, whatever its protocol version."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from mainflux.adapters.mqtt.codec import (
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    Publish,
    Will,
    encode_ack,
)
from mainflux.adapters.mqtt.codec5 import Publish5, with_subscription_ids
from mainflux.adapters.mqtt.journal import Journal
from mainflux.adapters.mqtt.topics import matches

NO_LOCAL = 0x04
RETAIN_AS_PUBLISHED = 0x08


class Client(Protocol):
    """One client connection as the broker and its session see it (any version)."""

    principal: Any  # who the policy authenticated (``None`` before)
    client_id: str
    credentials: tuple[str | None, bytes | None]  # user name and password of its CONNECT
    session: Session | None
    will: Will | None
    connected: bool  # its CONNECT was accepted and it has not gone yet
    connecting: bool  # its CONNECT arrived (it may still be being authenticated)
    closed: bool
    blocked: bool  # its output is full: QoS 0 is dropped, QoS 1/2 waits
    blocked_since: int  # the broker's tick when it became blocked (0: not blocked)
    keepalive: int
    last_seen: int  # the broker's tick of its last read
    opened: int  # the broker's tick when it was admitted
    resend_inflight: bool  # unacknowledged messages go again while connected (3.1.1)

    def write(self, data: bytes) -> None:
        """Queue bytes for this turn's single write."""

    def send_qos0(self, message: Publish, retain: bool) -> None:
        """Send at QoS 0 (dropped and counted when the client is behind)."""

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with ``packet_id``."""

    def flush(self) -> None:
        """Hand this turn's output to the socket."""

    def shutdown(self, code: int) -> None:
        """Close on the server's initiative (``code``: the MQTT 5 reason to tell)."""

    def abort(self) -> None:
        """Drop the socket at once."""


class Outgoing:
    """A QoS 1/2 message sent to the client and not yet fully acknowledged."""

    __slots__ = ("message", "qos", "ref", "released", "retain", "sent")

    def __init__(self, message: Publish, qos: int, retain: bool, ref: int, sent: float) -> None:
        self.message = message
        self.qos = qos
        self.retain = retain
        self.released = False
        self.ref = ref  # its number in the journal (0: not stored)
        self.sent = sent  # time.monotonic() of its last sending


class Session:
    """State of one client id of one owner; ``conn`` is ``None`` while the client is away."""

    __slots__ = (
        "_next_id",
        "awaiting_release",
        "clean",
        "client_id",
        "conn",
        "dropped",
        "expires_at",
        "expiry",
        "inflight",
        "journal",
        "max_inflight",
        "max_queue",
        "max_queue_bytes",
        "options",
        "options_apply",
        "owner",
        "pending",
        "queued_bytes",
        "subscriptions",
    )

    def __init__(
        self,
        owner: Any,
        client_id: str,
        clean: bool,
        max_inflight: int,
        max_queue: int,
        max_queue_bytes: int = 1 << 62,
    ) -> None:
        self.owner = owner
        self.client_id = client_id
        self.clean = clean
        self.conn: Client | None = None
        self.subscriptions: dict[str, int] = {}
        self.inflight: dict[int, Outgoing] = {}
        self.pending: deque[tuple[Publish, int, bool, int]] | None = None  # (..., ref)
        self.awaiting_release: set[int] | None = None
        self.max_inflight = max_inflight
        self.max_queue = max_queue
        self.max_queue_bytes = max_queue_bytes
        self.queued_bytes = 0  # payload and topic bytes of the messages in ``pending``
        self.dropped = 0
        self._next_id = 0
        self.expiry: int | None = 0 if clean else None  # seconds kept when away; None: ever
        self.expires_at = 0.0  # time.monotonic() when an absent session ends; 0: never
        self.options: dict[str, int] | None = None  # version 5 options by filter
        self.options_apply = False  # a version 5 client holds it: ``options`` count
        self.journal: Journal | None = None  # where a persistent session's state is kept

    def deliver(self, message: Publish, qos: int, retain: bool = False) -> None:
        """Send ``message`` at ``qos`` now, or queue it (QoS 1/2) when it cannot go yet.

        With subscription options (a version 5 client) the delivery honours those of
        the filters it matches: *no local* (not back to the publishing client),
        *retain as published*, and the subscription identifiers (``options`` value bits
        8 and up)."""
        options = self.options
        if options and not retain and self.options_apply:
            own = message.__class__ is Publish5 and message.origin is self
            granted = -1
            topic = message.topic
            ids: list[int] = []
            for topic_filter, filter_qos in self.subscriptions.items():
                flags = options.get(topic_filter, 0)
                if (own and flags & NO_LOCAL) or not matches(topic_filter, topic):
                    continue
                granted = max(granted, filter_qos)
                if flags & RETAIN_AS_PUBLISHED:
                    retain = message.retain
                if flags >> 8:
                    ids.append(flags >> 8)
            if granted < 0:
                return
            qos = min(qos, granted, message.qos)
            if ids:
                message = with_subscription_ids(message, ids)
        conn = self.conn
        if qos == 0:
            if conn is not None:
                conn.send_qos0(message, retain)
            return
        journal = self.journal
        if (
            conn is not None
            and not self.pending
            and len(self.inflight) < self.max_inflight
            and not conn.blocked
        ):
            ref = (
                journal.enqueue(self.owner, self.client_id, message, qos, retain) if journal else 0
            )
            self._send_new(conn, message, qos, retain, ref)
            return
        if conn is None and self.clean:
            return
        pending = self.pending
        if pending is None:
            pending = self.pending = deque()
        size = len(message.payload) + len(message.topic)
        if len(pending) >= self.max_queue or self.queued_bytes + size > self.max_queue_bytes:
            self.dropped += 1  # the newest is refused: what was queued first goes first
            return
        ref = journal.enqueue(self.owner, self.client_id, message, qos, retain) if journal else 0
        pending.append((message, qos, retain, ref))
        self.queued_bytes += size

    def restore(self, message: Publish, qos: int, retain: bool, ref: int) -> bool:
        """Queue a message read back from storage, within the queue's bounds; returns
        whether it fitted."""
        size = len(message.payload) + len(message.topic)
        pending = self.pending
        if pending is None:
            pending = self.pending = deque()
        if len(pending) >= self.max_queue or self.queued_bytes + size > self.max_queue_bytes:
            return False
        pending.append((message, qos, retain, ref))
        self.queued_bytes += size
        return True

    def _send_new(self, conn: Client, message: Publish, qos: int, retain: bool, ref: int) -> None:
        packet_id = self._allocate()
        self.inflight[packet_id] = Outgoing(message, qos, retain, ref, time.monotonic())
        conn.send_publish(message, qos, packet_id, retain, False)

    def done(self, ref: int) -> None:
        """A stored message left the session."""
        if ref and self.journal is not None:
            self.journal.dequeue(self.owner, self.client_id, ref)

    def _allocate(self) -> int:
        packet_id = self._next_id
        inflight = self.inflight
        while True:
            packet_id = packet_id + 1 if packet_id < 65535 else 1
            if packet_id not in inflight:
                self._next_id = packet_id
                return packet_id

    def acknowledge(self, kind: int, packet_id: int) -> None:
        """Handle PUBACK, PUBREC or PUBCOMP from the client."""
        out = self.inflight.get(packet_id)
        if kind == PUBREC:
            if out is not None and out.qos == 2:
                out.released = True
            if self.conn is not None:
                self.conn.write(encode_ack(PUBREL, packet_id))
            return
        if out is None:
            return
        if (kind == PUBACK and out.qos == 1) or (kind == PUBCOMP and out.qos == 2):
            del self.inflight[packet_id]
            if out.ref:
                self.done(out.ref)
            if self.pending:
                self.drain()

    def resume(self) -> None:
        """After a reconnect: resend everything in flight, then what waited."""
        conn = self.conn
        if conn is None:
            return
        now = time.monotonic()
        for packet_id, out in list(self.inflight.items()):
            out.sent = now
            if out.released:
                conn.write(encode_ack(PUBREL, packet_id))
            else:
                conn.send_publish(out.message, out.qos, packet_id, out.retain, True)
        self.drain()

    def resend_due(self, before: float) -> int:
        """Send again (DUP, or PUBREL once PUBREC came) what was last sent before
        ``before`` (``time.monotonic()``) and is still unacknowledged, while the client
        stays connected (MQTT 3.1.1 allows it; version 5 does not); returns how many.

        What is in flight is kept in the order it was last sent, so the scan stops at
        the first message not due yet."""
        conn = self.conn
        inflight = self.inflight
        if conn is None or conn.blocked or not inflight:
            return 0
        due: list[int] = []
        for packet_id, out in inflight.items():
            if out.sent >= before:
                break
            due.append(packet_id)
        now = time.monotonic()
        for packet_id in due:
            out = inflight.pop(packet_id)
            inflight[packet_id] = out  # to the end: the most recently sent
            out.sent = now
            if out.released:
                conn.write(encode_ack(PUBREL, packet_id))
            else:
                conn.send_publish(out.message, out.qos, packet_id, out.retain, True)
        return len(due)

    def drain(self) -> None:
        """Move queued messages into flight while the window and the socket allow."""
        conn = self.conn
        pending = self.pending
        if conn is None or not pending:
            return
        now = 0.0
        while pending and len(self.inflight) < self.max_inflight and not conn.blocked:
            message, qos, retain, ref = pending.popleft()
            self.queued_bytes -= len(message.payload) + len(message.topic)
            if message.__class__ is Publish5:
                now = now or time.monotonic()
                if message.expired(now):
                    self.done(ref)
                    continue
            self._send_new(conn, message, qos, retain, ref)
        if not pending:
            self.pending = None

    def forget(self, stale: Callable[[str], bool]) -> int:
        """Drop the queued (not yet sent) messages whose topic is ``stale``; return how
        many. Messages already in flight finish their exchange."""
        pending = self.pending
        if not pending:
            return 0
        kept: deque[tuple[Publish, int, bool, int]] = deque()
        for item in pending:
            if stale(item[0].topic):
                self.done(item[3])
            else:
                kept.append(item)
        dropped = len(pending) - len(kept)
        if dropped:
            self.pending = kept or None
            self.queued_bytes = sum(len(m.payload) + len(m.topic) for m, _, _, _ in kept)
        return dropped
