"""The WebSocket adapter's ASGI app (Mainflux 0.10's ``ws`` adapter, on 0.11's bus).

``GET /channels/<id>/messages[/<subtopic>]`` upgrades to a WebSocket after the thing key
(``Authorization`` header or ``?authorization=``) is checked against the channel:

- each frame the client sends is published as one message, protocol ``ws``;
- every message of the channel whose subject matches the connection's subtopic is sent
  to the client (its own frames included, as in 0.10). ``.../messages`` receives only
  messages without a subtopic; lone ``*`` and ``>`` elements are NATS wildcards, so
  ``.../messages/>`` receives every subtopic. A connection with a wildcard subtopic
  only listens: a frame from it is refused with close code 1008.
- Frames go out as text, or binary when the payload is not UTF-8 or the client asked for
  ``application/senml+cbor`` (``Content-Type`` header or ``?content-type=``).

Refused handshakes answer 400 (bad path or subtopic), 403 (missing or wrong key, not
connected) or 503 (things service or bus unreachable). A client that reads too slowly
loses messages (its outbox holds ``max_outbox`` frames) instead of slowing the bus.
A publish failure because the bus is down closes the socket with 1011."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Final

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux.adapters.http.asgi import header, query_param, request_path
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import (
    MalformedEntity,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from mainflux.messaging.bus import Bus
from mainflux.messaging.envelope import Message, subject_of
from mainflux.messaging.subtopic import has_wildcard, parse_topic

log = logging.getLogger("mainflux.ws")

PROTOCOL: Final = "ws"
CBOR: Final = "application/senml+cbor"
POLICY_VIOLATION: Final = 1008
TOO_BIG: Final = 1009
INTERNAL_ERROR: Final = 1011

SLOW_CLIENT_DROPS: Final = Counter(
    "mainflux_ws_dropped_total",
    "Messages not sent to a WebSocket client because its outbox was full.",
)


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class WsApp:
    """The raw ASGI app of the WebSocket adapter (see the module doc)."""

    def __init__(
        self, access: ThingAccess, bus: Bus, fallback: ASGIApp, *, max_outbox: int = 1024
    ) -> None:
        self.access = access
        self.bus = bus
        self.fallback = fallback
        self.max_outbox = max_outbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.fallback(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        outbox: asyncio.Queue[bytes] = asyncio.Queue(self.max_outbox)

        async def deliver(message: Message) -> None:
            try:
                outbox.put_nowait(message.payload)
            except asyncio.QueueFull:
                SLOW_CLIENT_DROPS.inc()

        try:
            channel, subtopic, thing = await self._authorize(scope)
            try:
                sub = await self.bus.subscribe(subject_of(channel, subtopic), deliver)
            except ServiceUnavailable:
                raise _Refused(503) from None
        except _Refused as refused:
            await _refuse(scope, send, refused.status)
            return
        try:
            await send({"type": "websocket.accept"})
            binary = _content_type(scope) == CBOR
            sender = asyncio.create_task(_pump(outbox, send, binary))
            try:
                await self._read_frames(receive, send, channel, subtopic, thing)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender
        finally:
            await sub.unsubscribe()

    async def _authorize(self, scope: Scope) -> tuple[str, str, str]:
        path, escaped = request_path(scope)
        try:
            channel, subtopic = parse_topic(path, unescape=escaped)
        except MalformedEntity:
            raise _Refused(400) from None
        raw_key = header(scope, b"authorization")
        key = raw_key.decode("latin-1") if raw_key else ""
        if not key:
            key = query_param(scope.get("query_string", b""), "authorization") or ""
        if not key:
            raise _Refused(403)
        try:
            thing = await self.access.can_access_by_key(channel, key)
        except (Unauthorized, NotFound):
            raise _Refused(403) from None
        except MalformedEntity:
            raise _Refused(400) from None
        except ServiceUnavailable:
            raise _Refused(503) from None
        return channel, subtopic, thing

    async def _read_frames(
        self, receive: Receive, send: Send, channel: str, subtopic: str, thing: str
    ) -> None:
        listen_only = has_wildcard(subtopic)
        while True:
            event = await receive()
            if event["type"] != "websocket.receive":
                return
            if listen_only:
                await _close(send, POLICY_VIOLATION, "cannot publish to a wildcard subtopic")
                return
            data = event.get("bytes")
            if data is None:
                data = (event.get("text") or "").encode()
            message = Message(channel, subtopic, thing, PROTOCOL, data, time.time_ns())
            try:
                await self.bus.publish(message)
            except PayloadTooLarge:
                await _close(send, TOO_BIG, "message too large for the bus")
                return
            except ServiceUnavailable:
                await _close(send, INTERNAL_ERROR, "message bus unavailable")
                return


async def _pump(outbox: asyncio.Queue[bytes], send: Send, binary: bool) -> None:
    """Send queued payloads to the client until cancelled or the client is gone."""
    try:
        while True:
            payload = await outbox.get()
            frame: dict[str, Any] = {"type": "websocket.send"}
            if binary:
                frame["bytes"] = payload
            else:
                try:
                    frame["text"] = payload.decode()
                except UnicodeDecodeError:
                    frame["bytes"] = payload
            await send(frame)
    except (OSError, RuntimeError):  # the client went away mid-send
        return


async def _close(send: Send, code: int, reason: str) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        await send({"type": "websocket.close", "code": code, "reason": reason})


async def _refuse(scope: Scope, send: Send, status: int) -> None:
    """Answer a refused handshake with ``status`` when the server can, else 403."""
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-length", b"0")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b""})
    else:
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})


def _content_type(scope: Scope) -> str:
    raw = header(scope, b"content-type")
    if raw:
        return raw.decode("latin-1").strip().lower()
    return (query_param(scope.get("query_string", b""), "content-type") or "").lower()
