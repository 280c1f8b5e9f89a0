"""Durable JetStream consumption of ``channels.>``: no message lost across restarts.

A stream captures every subject of :data:`ALL_CHANNELS` — including messages that Go
Mainflux services publish with plain core NATS — and keeps them on disk. Consumers pull
batches through one durable consumer (several processes may share it, each batch going
to one of them) and acknowledge a batch only after their handler returned, i.e. after
its rows are committed. A process that dies mid-batch leaves its messages unacknowledged,
so the server delivers them again after ``ack_wait``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from mainflux.messaging.bus import BatchHandler
from mainflux.messaging.envelope import ALL_CHANNELS, Message
from mainflux.messaging.inproc import matches, subject_tokens

log = logging.getLogger("mainflux.jetstream")

DEFAULT_STREAM: Final = "MAINFLUX_MESSAGES"

#: Called with the raw subject of a message that is not a Mainflux envelope.
InvalidHandler = Callable[[str], None]


async def ensure_stream(
    js: JetStreamContext, name: str = DEFAULT_STREAM, *, max_age: float = 0.0
) -> str:
    """Return the stream capturing ``channels.>``, creating ``name`` when there is none.

    ``max_age`` (seconds, 0 = unlimited) bounds how long an unconsumed message is kept.
    Another stream already capturing the subjects is reused, whatever its name."""
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
        js: JetStreamContext,
        stream: str,
        settings: ConsumerSettings,
        *,
        on_invalid: InvalidHandler | None = None,
    ) -> None:
        self._js = js
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
        raises, its batch is handed back to the server for redelivery."""
        await asyncio.gather(
            *(self._loop(handler, stop) for _ in range(self._settings.concurrency))
        )

    async def _loop(self, handler: BatchHandler, stop: asyncio.Event) -> None:
        s = self._settings
        puller = _Puller(self._js, self._stream, s.durable)
        await puller.start()
        try:
            while not stop.is_set():
                try:
                    msgs = await puller.fetch(s.batch_size, max(s.batch_timeout, 0.05))
                except NatsError as exc:
                    log.warning("JetStream pull failed (%s); retrying", exc)
                    await asyncio.sleep(0.5)
                    continue
                if msgs:
                    await self._handle(msgs, handler)
        finally:
            await puller.close()

    async def _handle(self, msgs: list[Msg], handler: BatchHandler) -> None:
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
            await asyncio.sleep(1.0)
            return
        finally:
            keepalive.cancel()
        await _ack_all(self._js._nc, msgs)

    async def _keep_alive(self, msgs: Sequence[Msg]) -> None:
        """Tell the server the batch is still being worked on (e.g. the database is down)."""
        while True:
            await asyncio.sleep(self._settings.ack_wait / 3)
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.in_progress()


async def _ack_all(nc: Any, msgs: Sequence[Msg]) -> None:
    """Acknowledge a whole batch with one write instead of one publish call per message.

    Uses the client's outgoing buffer directly (``_send_command``, as ``publish`` does
    after its per-call checks); falls back to ``Msg.ack`` if that is not available.
    A lost acknowledgement only means a redelivery, which stores nothing twice."""
    send = getattr(nc, "_send_command", None)
    flush = getattr(nc, "_flush_pending", None)
    if send is None or flush is None:
        await _settle(msgs, ack=True)
        return
    if nc.is_closed:
        log.warning("could not ack %d JetStream messages: connection closed", len(msgs))
        return
    await send(b"".join([b"PUB %s 4\r\n+ACK\r\n" % m.reply.encode() for m in msgs if m.reply]))
    await flush()


async def _settle(msgs: Sequence[Msg], *, ack: bool) -> None:
    for msg in msgs:
        try:
            await (msg.ack() if ack else msg.nak())
        except Exception as exc:  # connection lost: the server redelivers after ack_wait
            log.warning("could not %s a JetStream message: %s", "ack" if ack else "nak", exc)
            return


class _Puller:
    """Pull requests on a plain subscription: one request per batch, no per-message task.

    A first request without waiting takes what is ready (up to ``batch``); when nothing
    is, a second one waits up to ``timeout`` for messages to arrive. The subscription
    has no callback: the client queues what arrives and :meth:`fetch` drains that queue
    directly (``next_msg`` and ``messages`` would start a task per message)."""

    def __init__(self, js: JetStreamContext, stream: str, durable: str) -> None:
        self._nc = js._nc
        self._subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = self._nc.new_inbox()
        self._sub: Any = None
        self._queue: asyncio.Queue[Msg] | None = None

    async def start(self) -> None:
        # No byte limit: at most one batch is ever waiting here, and a limit would
        # need the client's own bookkeeping, done only when it delivers to a callback.
        self._sub = await self._nc.subscribe(self._inbox, pending_bytes_limit=0)
        self._queue = self._sub._pending_queue

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to ``batch`` messages; an empty list when none arrived within ``timeout``."""
        msgs = await self._request({"batch": batch, "no_wait": True}, timeout + 1.0, batch)
        if msgs:
            return msgs
        expires = int(timeout * 1e9)
        return await self._request({"batch": batch, "expires": expires}, timeout + 1.0, batch)

    async def _request(self, body: dict[str, Any], wait: float, batch: int) -> list[Msg]:
        queue = self._queue
        assert queue is not None, "start() first"
        await self._nc.publish(self._subject, json.dumps(body).encode(), reply=self._inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        msgs: list[Msg] = []
        while len(msgs) < batch:
            if queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    msg = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                msg = queue.get_nowait()
            if msg.headers and msg.headers.get("Status"):
                break  # 404 nothing ready, 408 request expired, 409 and the like
            msgs.append(msg)
        return msgs
