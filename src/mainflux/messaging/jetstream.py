"""Durable JetStream consumption of ``channels.>``: no message lost across restarts.

A stream captures every subject of :data:`ALL_CHANNELS` — including messages that Go
Mainflux services publish with plain core NATS — and keeps them on disk. Consumers pull
batches through one durable consumer (several processes may share it, each batch going
to one of them) and acknowledge a batch only after their handler returned, i.e. after
its rows are committed. A process that dies mid-batch leaves its messages unacknowledged,
so the server delivers them again after ``ack_wait``.

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

from mainflux.core.retry import Backoff
from mainflux.messaging.bus import BatchHandler
from mainflux.messaging.envelope import ALL_CHANNELS, Message
from mainflux.messaging.subjects import matches, subject_tokens

log = logging.getLogger("mainflux.jetstream")

DEFAULT_STREAM: Final = "MAINFLUX_MESSAGES"

#: Called with the raw subject of a message that is not a Mainflux envelope.
InvalidHandler = Callable[[str], None]


class JetStreamUnavailable(Exception):
    """The NATS server does not offer JetStream (e.g. ``nats-server`` started without ``-js``)."""


async def ensure_stream(
    js: JetStreamContext, name: str = DEFAULT_STREAM, *, max_age: float = 0.0
) -> str:
    """Return the stream capturing ``channels.>``, creating ``name`` when there is none.

    ``max_age`` (seconds, 0 = unlimited) bounds how long an unconsumed message is kept.
    Another stream already capturing the subjects is reused, whatever its name.
    Raises :class:`JetStreamUnavailable` when the server has no JetStream."""
    try:
        return await _ensure_stream(js, name, max_age)
    except ServiceUnavailableError as exc:
        detail = f" ({exc.description})" if exc.description else ""
        raise JetStreamUnavailable(
            f"no JetStream on this NATS server{detail}; start nats-server with -js"
        ) from None


async def _ensure_stream(js: JetStreamContext, name: str, max_age: float) -> str:
    with contextlib.suppress(NotFoundError):
        return await js.find_stream_name_by_subject(ALL_CHANNELS)
    config = api.StreamConfig(
        name=name,
        subjects=[ALL_CHANNELS],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        max_age=max_age or None,
        duplicate_window=0,
    )
    try:
        await js.add_stream(config)
    except ServiceUnavailableError:
        raise
    except NatsError:
        # Another process created it at the same moment: use whatever captures it now.
        return await js.find_stream_name_by_subject(ALL_CHANNELS)
    log.info("created JetStream stream %s over %s", name, ALL_CHANNELS)
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
        batch went back to the server."""
        envelopes: list[Message] = []
        for msg in msgs:
            if self._patterns:
                tokens = tuple(msg.subject.split("."))
                if not any(matches(p, tokens) for p in self._patterns):
                    continue
            try:
                envelopes.append(Message.decode(msg.data))
            except ValueError:
                if self._on_invalid is not None:
                    self._on_invalid(msg.subject)
        keepalive = asyncio.create_task(self._keep_alive(msgs))
        try:
            if envelopes:
                await handler(envelopes)
        except asyncio.CancelledError:
            await _settle(msgs, ack=False)
            raise
        except Exception:
            log.exception("batch handler failed; %d messages handed back", len(msgs))
            await _settle(msgs, ack=False)
            return False
        finally:
            keepalive.cancel()
        await _settle(msgs, ack=True)
        return True

    async def _keep_alive(self, msgs: Sequence[Msg]) -> None:
        """Tell the server the batch is still being worked on (e.g. the database is down)."""
        while True:
            await asyncio.sleep(self._settings.ack_wait / 3)
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.in_progress()


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
