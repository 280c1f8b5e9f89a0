"""Durable JetStream consumption of ``channels.>``: no message lost across restarts.

A stream captures every subject of :data:`ALL_CHANNELS` — including messages that Go
Mainflux services publish with plain core NATS — and keeps them on disk. Consumers pull
batches through one durable consumer (several processes may share it, each batch going
to one of them) and acknowledge a batch only after their handler returned, i.e. after
its rows are committed. A process that dies mid-batch leaves its messages unacknowledged,
so the server delivers them again after ``ack_wait``.

Nothing grows without bound: a stream this module creates keeps messages for
``max_age`` seconds and ``max_bytes`` bytes at most (the oldest go first), and a message
whose handler keeps failing is not redelivered forever: at its ``max_deliver``-th
delivery it is handled alone, and if that fails too it is parked on
``mainflux.deadletter.<durable>.<its subject>`` (kept by the ``MAINFLUX_DEADLETTER``
stream), acknowledged and counted in ``mainflux_jetstream_parked_messages_total``.

Only nats-py's public API is used (``subscribe``, ``publish``, ``Msg.ack``/``nak``/
``in_progress``, the JetStream manager), so a nats-py release cannot break it quietly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError, ServiceUnavailableError
from prometheus_client import Counter

from mainflux.core.retry import Backoff
from mainflux.messaging.bus import BatchHandler
from mainflux.messaging.envelope import ALL_CHANNELS, Message
from mainflux.messaging.subjects import matches, subject_tokens

log = logging.getLogger("mainflux.jetstream")

DEFAULT_STREAM: Final = "MAINFLUX_MESSAGES"
#: Defaults of a created stream's bounds: a week, and 1 GiB.
DEFAULT_MAX_AGE: Final = 7 * 24 * 3600.0
DEFAULT_MAX_BYTES: Final = 1 << 30
#: Where messages that keep failing are parked, and the stream that keeps them (30 days).
DEAD_LETTER_PREFIX: Final = "mainflux.deadletter"
DEAD_LETTER_STREAM: Final = "MAINFLUX_DEADLETTER"
DEAD_LETTER_MAX_AGE: Final = 30 * 24 * 3600.0

PARKED: Final = Counter(
    "mainflux_jetstream_parked_messages_total",
    "Messages a durable consumer parked on the dead-letter subject after its handler "
    "failed on their last delivery.",
    ["durable"],
)

#: Called with the raw subject of a message that is not a Mainflux envelope.
InvalidHandler = Callable[[str], None]


class JetStreamUnavailable(Exception):
    """The NATS server does not offer JetStream (e.g. ``nats-server`` started without ``-js``)."""


async def ensure_stream(
    js: JetStreamContext,
    name: str = DEFAULT_STREAM,
    *,
    max_age: float = DEFAULT_MAX_AGE,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> str:
    """Return the stream capturing ``channels.>``, creating ``name`` when there is none,
    and make sure the dead-letter stream exists.

    A created stream keeps a message ``max_age`` seconds and ``max_bytes`` bytes at most
    (0 = unlimited), whether or not it was consumed: a writer added later still finds
    recent messages. Another stream already capturing the subjects is reused, whatever
    its name and bounds. Raises :class:`JetStreamUnavailable` when the server has no
    JetStream."""
    try:
        found = await _ensure(js, name, ALL_CHANNELS, max_age, max_bytes)
        await _ensure(js, DEAD_LETTER_STREAM, f"{DEAD_LETTER_PREFIX}.>", DEAD_LETTER_MAX_AGE, 0)
        return found
    except ServiceUnavailableError as exc:
        detail = f" ({exc.description})" if exc.description else ""
        raise JetStreamUnavailable(
            f"no JetStream on this NATS server{detail}; start nats-server with -js"
        ) from None


async def _ensure(
    js: JetStreamContext, name: str, subjects: str, max_age: float, max_bytes: int
) -> str:
    with contextlib.suppress(NotFoundError):
        return await js.find_stream_name_by_subject(subjects)
    config = api.StreamConfig(
        name=name,
        subjects=[subjects],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        discard=api.DiscardPolicy.OLD,
        max_age=max_age or None,
        max_bytes=max_bytes or None,
        duplicate_window=0,
    )
    try:
        await js.add_stream(config)
    except ServiceUnavailableError:
        raise
    except NatsError:
        # Another process created it at the same moment: use whatever captures it now.
        return await js.find_stream_name_by_subject(subjects)
    log.info("created JetStream stream %s over %s", name, subjects)
    return name


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """How a durable consumer pulls: batch size and wait, redelivery delay."""

    durable: str
    subjects: tuple[str, ...] = (ALL_CHANNELS,)
    batch_size: int = 1000
    batch_timeout: float = 0.1
    ack_wait: float = 30.0
    max_ack_pending: int = 50_000
    #: Batches in flight at once per process (one pulled while another is stored).
    concurrency: int = 2
    #: The delivery at which a message the handler fails on is parked instead of
    #: handed back (see the module docstring).
    max_deliver: int = 5


class DurableConsumer:
    """Pulls batches of envelopes from a stream and acknowledges them after handling.

    With one subject the server filters; with several the consumer reads the whole
    stream and acknowledges non-matching messages without handing them over (NATS 2.9
    consumers take one filter subject)."""

    def __init__(
        self,
        nc: Client,
        stream: str,
        settings: ConsumerSettings,
        *,
        on_invalid: InvalidHandler | None = None,
        api_prefix: str = api.DEFAULT_PREFIX,
    ) -> None:
        self._nc = nc
        self._js = nc.jetstream(prefix=api_prefix)
        self._next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{settings.durable}"
        self._stream = stream
        self._settings = settings
        self._on_invalid = on_invalid
        subjects = settings.subjects
        self._server_filter = subjects[0] if len(subjects) == 1 else ALL_CHANNELS
        self._patterns = (
            [] if len(subjects) == 1 else [subject_tokens(s, wildcards=True) for s in subjects]
        )

    async def ensure(self) -> None:
        """Create the durable consumer unless it exists.

        Raises ``nats.errors.Error`` when an existing consumer of that name filters
        other subjects (choose another durable name, or delete it)."""
        s = self._settings
        try:
            info = await self._js.consumer_info(self._stream, s.durable)
        except NotFoundError:
            info = None
        if info is not None:
            current = info.config.filter_subject or ALL_CHANNELS
            if current != self._server_filter:
                raise NatsError(
                    f"durable consumer {s.durable!r} filters {current!r}, "
                    f"not {self._server_filter!r}"
                )
            return
        config = api.ConsumerConfig(
            durable_name=s.durable,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=s.ack_wait,
            max_ack_pending=s.max_ack_pending,
            filter_subject=None if self._server_filter == ALL_CHANNELS else self._server_filter,
        )
        await self._js.add_consumer(self._stream, config)

    async def run(self, handler: BatchHandler, stop: asyncio.Event) -> None:
        """Pull, hand over and acknowledge batches until ``stop`` is set.

        The batch in hand when ``stop`` is set is finished first. If the handler
        raises, its batch is handed back to the server for redelivery and the next
        pull waits a growing delay (as does a failed pull)."""
        await asyncio.gather(
            *(self._loop(handler, stop) for _ in range(self._settings.concurrency))
        )

    async def _loop(self, handler: BatchHandler, stop: asyncio.Event) -> None:
        s = self._settings
        puller = _Puller(self._nc, self._next_subject)
        await puller.start()
        failures = Backoff(first=0.5, most=5.0)
        try:
            while not stop.is_set():
                try:
                    msgs = await puller.fetch(s.batch_size, max(s.batch_timeout, 0.05))
                except NatsError as exc:
                    log.warning("JetStream pull failed (%s); retrying", exc)
                    await failures.wait(stop)
                    continue
                if not msgs:
                    continue
                if await self._handle(msgs, handler):
                    failures.reset()
                else:
                    await failures.wait(stop)
        finally:
            await puller.close()

    async def _handle(self, msgs: list[Msg], handler: BatchHandler) -> bool:
        """Hand a batch over, then acknowledge it; False when the handler failed and the
        batch went back to the server (but for its messages on their last delivery:
        see :meth:`_last_chance`)."""
        envelopes = self._envelopes(msgs)
        keepalive = asyncio.create_task(self._keep_alive(msgs))
        try:
            if envelopes:
                await handler([envelope for _, envelope in envelopes])
        except asyncio.CancelledError:
            await _settle(msgs, ack=False)
            raise
        except Exception:
            log.exception("batch handler failed; %d messages handed back", len(msgs))
            last = [(m, e) for m, e in envelopes if _deliveries(m) >= self._settings.max_deliver]
            finished = {id(m) for m, _ in last}
            await _settle([m for m in msgs if id(m) not in finished], ack=False)
            await self._last_chance(last, handler)
            return False
        finally:
            keepalive.cancel()
        await _settle(msgs, ack=True)
        return True

    async def _last_chance(
        self, last: Sequence[tuple[Msg, Message]], handler: BatchHandler
    ) -> None:
        """Hand each message on its last delivery over alone; park those that still fail."""
        durable = self._settings.durable
        for msg, envelope in last:
            try:
                await handler([envelope])
            except Exception as exc:
                try:
                    await self._js.publish(
                        f"{DEAD_LETTER_PREFIX}.{durable}.{msg.subject}",
                        msg.data,
                        headers={"Mainflux-Subject": msg.subject, "Mainflux-Error": str(exc)},
                    )
                except Exception as park_error:
                    log.error("could not park a message of %s: %s", msg.subject, park_error)
                    await _settle([msg], ack=False)
                    continue
                PARKED.labels(durable).inc()
                log.error(
                    "%s: parked a message of %s on %s.%s after %d deliveries: %s",
                    durable,
                    msg.subject,
                    DEAD_LETTER_PREFIX,
                    durable,
                    _deliveries(msg),
                    exc,
                )
            await _settle([msg], ack=True)

    def _envelopes(self, msgs: Sequence[Msg]) -> list[tuple[Msg, Message]]:
        """The batch's envelopes for this consumer, each beside its message; what is not
        an envelope goes to ``on_invalid`` (and is acknowledged with the batch)."""
        envelopes: list[tuple[Msg, Message]] = []
        for msg in msgs:
            if self._patterns:
                tokens = tuple(msg.subject.split("."))
                if not any(matches(p, tokens) for p in self._patterns):
                    continue
            try:
                envelopes.append((msg, Message.decode(msg.data)))
            except ValueError:
                if self._on_invalid is not None:
                    self._on_invalid(msg.subject)
        return envelopes

    async def _keep_alive(self, msgs: Sequence[Msg]) -> None:
        """Tell the server the batch is still being worked on (e.g. the database is down)."""
        while True:
            await asyncio.sleep(self._settings.ack_wait / 3)
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.in_progress()


def _deliveries(msg: Msg) -> int:
    """How many times the server delivered ``msg`` (1 the first time)."""
    try:
        return msg.metadata.num_delivered or 1
    except Exception:  # not a JetStream message (no metadata in its reply subject)
        return 1


async def _settle(msgs: Sequence[Msg], *, ack: bool) -> None:
    """Acknowledge (or hand back) every message of a batch.

    A lost acknowledgement only means a redelivery after ``ack_wait``, which stores
    nothing twice; a connection lost half-way leaves the rest to that redelivery."""
    for msg in msgs:
        try:
            await (msg.ack() if ack else msg.nak())
        except Exception as exc:
            log.warning("could not %s a JetStream message: %s", "ack" if ack else "nak", exc)
            return


class _Puller:
    """Pull requests for one durable consumer, answered on an inbox of its own.

    The JetStream pull protocol on nats-py's public core API (``subscribe`` with a
    callback, ``publish`` with a reply subject): at most one request is outstanding,
    the callback collects what the server delivers, and a status message (404 nothing
    ready, 408 request expired) ends the request. This avoids the two tasks per
    message that ``PullSubscription.fetch`` starts: with a handler that does nothing,
    ``fetch`` handled less than half as many messages per CPU second as this puller."""

    def __init__(self, nc: Client, subject: str) -> None:
        self._nc = nc
        self._subject = subject
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._ready: list[Msg] = []
        self._want = 0
        self._ended = asyncio.Event()
        self._error: str | None = None

    async def start(self) -> None:
        """Subscribe to the inbox (once, before the first :meth:`fetch`)."""
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)

    async def close(self) -> None:
        """Unsubscribe; a closed connection counts as already unsubscribed."""
        if self._sub is not None:
            with contextlib.suppress(NatsError):
                await self._sub.unsubscribe()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to ``batch`` messages; an empty list when none arrived within ``timeout``.

        A first request takes what is ready without waiting; when nothing is, a second
        one waits up to ``timeout`` for messages to arrive. Raises ``nats.errors.Error``
        when the server refuses the request (e.g. 409, the consumer was deleted) or the
        connection is closed."""
        msgs = await self._request({"batch": batch, "no_wait": True}, timeout + 1.0, batch)
        if msgs:
            return msgs
        expires = int(timeout * 1e9)
        return await self._request({"batch": batch, "expires": expires}, timeout + 1.0, batch)

    async def _request(self, body: dict[str, int | bool], wait: float, batch: int) -> list[Msg]:
        self._want = batch
        self._error = None
        if len(self._ready) < batch:  # late deliveries of an earlier request may be here
            self._ended.clear()
            body = {**body, "batch": batch - len(self._ready)}
            await self._nc.publish(self._subject, json.dumps(body).encode(), reply=self._inbox)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), wait)
        if self._error is not None and not self._ready:
            raise NatsError(f"pull request refused: {self._error}")
        msgs, self._ready = self._ready[:batch], self._ready[batch:]
        return msgs

    async def _on_msg(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            self._ready.append(msg)
            if len(self._ready) >= self._want:
                self._ended.set()
            return
        if status == "100":
            return  # idle heartbeat or flow control: the request goes on
        if status.startswith("409"):
            self._error = f"{status} {headers.get('Description', '')}".strip()
        self._ended.set()
