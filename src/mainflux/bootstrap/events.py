"""Event sourcing for bootstrap: a decorator that appends to ``mainflux.bootstrap``.

After each successful change the decorator appends one entry with the seed's operation
names and fields (SEED-EVENTS.md): flat strings, channel ids joined by ``", "``, the
external id spelled ``externalID``, ``timestamp`` in Unix seconds. Every bootstrap
attempt, failed ones included, appends ``thing.bootstrap`` with ``success`` ``1`` or
``0``. Certificate updates append nothing (as in Mainflux); no key or certificate ever
goes into an event.

A failed append never fails the client's request; it is logged and counted in
``mainflux_event_append_failures_total``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from mainflux.bootstrap.models import Config, ConfigFilter, Page, State
from mainflux.bootstrap.service import DEFAULT_LIMIT, Service
from mainflux.core.errors import MainfluxError
from mainflux.core.metrics import EVENT_FAILURES
from mainflux.events.stream import EventStream

STREAM: Final = "mainflux.bootstrap"

log = logging.getLogger("mainflux.bootstrap.events")


def _now() -> str:
    return str(int(time.time()))


class EventingBootstrapService:
    """A :class:`~mainflux.bootstrap.service.Service` that records changes in a stream.

    ``clock`` gives the ``timestamp`` field (Unix seconds as text)."""

    def __init__(
        self, inner: Service, stream: EventStream, *, clock: Callable[[], str] = _now
    ) -> None:
        self._inner = inner
        self._stream = stream
        self._clock = clock

    async def _append(self, operation: str, fields: Mapping[str, str]) -> None:
        entry = {"operation": operation, **fields, "timestamp": self._clock()}
        try:
            await self._stream.append(STREAM, entry)
        except Exception as exc:
            EVENT_FAILURES.labels(STREAM).inc()
            log.error("cannot append %s to %s: %s", operation, STREAM, type(exc).__name__)

    async def add(self, token: str, config: Config) -> Config:
        saved = await self._inner.add(token, config)
        await self._append(
            "config.create",
            {
                "thing_id": saved.thing_id,
                "owner": saved.owner,
                "name": saved.name,
                "channels": ", ".join(saved.channel_ids),
                "externalID": saved.external_id,
                "content": saved.content,
            },
        )
        return saved

    async def view(self, token: str, thing_id: str) -> Config:
        return await self._inner.view(token, thing_id)

    async def update(self, token: str, thing_id: str, name: str, content: str) -> None:
        await self._inner.update(token, thing_id, name, content)
        fields = {"thing_id": thing_id.lower(), "name": name, "content": content}
        await self._append("config.update", fields)

    async def update_certs(
        self, token: str, thing_id: str, client_cert: str, client_key: str, ca_cert: str
    ) -> None:
        await self._inner.update_certs(token, thing_id, client_cert, client_key, ca_cert)

    async def update_connections(
        self, token: str, thing_id: str, channel_ids: Sequence[str]
    ) -> list[str]:
        ids = await self._inner.update_connections(token, thing_id, channel_ids)
        fields = {"thing_id": thing_id.lower(), "channels": ", ".join(ids)}
        await self._append("thing.update_connections", fields)
        return ids

    async def list(
        self, token: str, filter: ConfigFilter, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page:
        return await self._inner.list(token, filter, offset, limit)

    async def remove(self, token: str, thing_id: str) -> bool:
        removed = await self._inner.remove(token, thing_id)
        if removed:
            await self._append("config.remove", {"thing_id": thing_id.lower()})
        return removed

    async def list_unknown(self, token: str, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
        return await self._inner.list_unknown(token, offset, limit)

    async def bootstrap(self, external_id: str, key: str, secure: bool = False) -> Config:
        try:
            config = await self._inner.bootstrap(external_id, key, secure)
        except MainfluxError:
            await self._append("thing.bootstrap", {"externalID": external_id, "success": "0"})
            raise
        await self._append("thing.bootstrap", {"externalID": external_id, "success": "1"})
        return config

    async def change_state(self, token: str, thing_id: str, state: State) -> None:
        await self._inner.change_state(token, thing_id, state)
        fields = {"thing_id": thing_id.lower(), "state": str(int(state))}
        await self._append("thing.state_change", fields)


_check: type[Service] = EventingBootstrapService
