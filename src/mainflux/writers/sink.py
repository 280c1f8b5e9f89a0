"""Turning batches of bus messages into stored rows, without ever losing one.

The sink transforms each message by the writer's content type, counts and logs
refused payloads (once per cause and channel), and stores the batch in one
transaction, retrying with backoff while the database is unreachable: for as long as it
takes (the JetStream writer, the default), or for ``max_retries`` retries and then
raising ``ServiceUnavailable`` (the embedded all-in-one's writer, whose publishers are
waiting for the answer). Rows the database itself refuses are isolated message by
message so one bad payload never blocks the others."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from prometheus_client import Counter

from mainflux.core import errors
from mainflux.core.retry import Backoff
from mainflux.messaging.envelope import Message
from mainflux.transformers import TransformerError, senml
from mainflux.transformers import json as json_transformer
from mainflux.writers.rows import JSONRow, SenMLRow, record_ids
from mainflux.writers.store import MessageStore

log = logging.getLogger("mainflux.writer")

INVALID: Final = Counter(
    "mainflux_writer_invalid_messages_total",
    "Messages a writer refused (bad payload, or rows the database refused), by cause.",
    ["writer", "cause"],
)
STORED: Final = Counter(
    "mainflux_writer_stored_records_total", "Records a writer committed.", ["writer"]
)
RETRIES: Final = Counter(
    "mainflux_writer_store_retries_total",
    "Batches a writer had to retry because the database was unreachable.",
    ["writer"],
)

_MAX_REMEMBERED: Final = 10_000


#: The rows of one message and its channel: SenML rows, or JSON rows for a JSON writer.
#: (A plain tuple: built once per message, so cheaper than a named one.)
_Prepared = tuple[str, list[Any]]


class MessageSink:
    """Transforms and stores batches of messages; see the module docstring."""

    def __init__(
        self,
        store: MessageStore,
        content_type: str = senml.JSON,
        *,
        name: str = "postgres-writer",
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        max_retries: int | None = None,
    ) -> None:
        """``max_retries`` bounds the retries of an unreachable database (``None``:
        retry until it answers); the backoff doubles from ``min_backoff`` to
        ``max_backoff`` seconds."""
        self._store = store
        self._name = name
        self._json = content_type == json_transformer.CONTENT_TYPE
        self._senml: Callable[[Message], list[senml.SenMLRecord]] = senml.transformer(content_type)
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._max_retries = max_retries
        self._reported: set[tuple[str, str]] = set()

    def refuse(self, cause: str, channel: str, reason: str) -> None:
        """Count a refused message; log the first one of each cause and channel."""
        INVALID.labels(self._name, cause).inc()
        key = (cause, channel)
        if key in self._reported:
            return
        if len(self._reported) >= _MAX_REMEMBERED:
            self._reported.clear()
        self._reported.add(key)
        log.warning(
            "%s: dropping messages of channel %s: %s (logged once per cause and channel)",
            self._name,
            channel,
            reason,
        )

    def _prepare(self, messages: Sequence[Message]) -> list[_Prepared]:
        if self._json:
            return self._prepare_json(messages)
        transform = self._senml
        prepared: list[_Prepared] = []
        append = prepared.append
        for msg in messages:
            try:
                records = transform(msg)
            except TransformerError as exc:
                self.refuse(exc.cause, msg.channel, str(exc))
                continue
            if len(records) == 1:  # the common case
                append((msg.channel, [(record_ids(msg, 1)[0], records[0])]))
            elif records:
                rows = list(zip(record_ids(msg, len(records)), records, strict=True))
                append((msg.channel, rows))
        return prepared

    def _prepare_json(self, messages: Sequence[Message]) -> list[_Prepared]:
        prepared: list[_Prepared] = []
        for msg in messages:
            try:
                objects = json_transformer.transform(msg)
            except TransformerError as exc:
                self.refuse(exc.cause, msg.channel, str(exc))
                continue
            if objects:
                rows = list(zip(record_ids(msg, len(objects)), objects, strict=True))
                prepared.append((msg.channel, rows))
        return prepared

    async def write(self, messages: Sequence[Message]) -> None:
        """Store every valid message of the batch; returns once they are committed.

        Waits (retrying with backoff) while the database is unreachable; raises
        ``ServiceUnavailable`` once ``max_retries`` retries failed."""
        prepared = self._prepare(messages)
        if not prepared:
            return
        rows = [row for _, message_rows in prepared for row in message_rows]
        senml_rows: list[SenMLRow] = [] if self._json else rows
        json_rows: list[JSONRow] = rows if self._json else []
        try:
            await self._save(senml_rows, json_rows)
        except errors.MalformedEntity:
            await self._write_one_by_one(prepared)
            return
        STORED.labels(self._name).inc(len(senml_rows) + len(json_rows))

    async def _write_one_by_one(self, prepared: Sequence[_Prepared]) -> None:
        for channel, rows in prepared:
            try:
                if self._json:
                    await self._save([], rows)
                else:
                    await self._save(rows, [])
            except errors.MalformedEntity as exc:
                self.refuse("database", channel, str(exc.__cause__ or exc))
                continue
            STORED.labels(self._name).inc(len(rows))

    async def _save(self, senml_rows: Sequence[SenMLRow], json_rows: Sequence[JSONRow]) -> None:
        """Store the rows, retrying while the database is unreachable (see ``write``).

        Not :func:`mainflux.core.retry.retry`: the retries are bounded or not, logged
        once per ten, counted, and cancelling the caller is what stops them."""
        backoff = Backoff(self._min_backoff, self._max_backoff)
        failures = 0
        while True:
            try:
                await self._store.save(senml_rows, json_rows)
            except errors.ServiceUnavailable as exc:
                failures += 1
                if self._max_retries is not None and failures > self._max_retries:
                    log.error(
                        "%s: cannot store %d rows (%s: %s); gave up after %d retries",
                        self._name,
                        len(senml_rows) + len(json_rows),
                        exc,
                        type(exc.__cause__).__name__,
                        self._max_retries,
                    )
                    raise
                RETRIES.labels(self._name).inc()
                delay = backoff.next_delay()
                if failures == 1 or failures % 10 == 0:
                    log.warning(
                        "%s: cannot store %d rows (%s: %s); retry %d in %.1fs",
                        self._name,
                        len(senml_rows) + len(json_rows),
                        exc,
                        type(exc.__cause__).__name__,
                        failures,
                        delay,
                    )
                await asyncio.sleep(delay)
                continue
            if failures:
                log.info("%s: database reachable again after %d retries", self._name, failures)
            return
