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

A plain HTTP request (no upgrade) to a channel's path answers 426. Refused handshakes
answer, with the JSON error body, 400 (bad path or subtopic), 403 (missing or wrong key, not
connected), 429 (the thing already holds ``max_connections_per_thing`` sockets) or 503
(the adapter holds ``max_connections`` sockets, or the things service or bus is
unreachable); each is logged at INFO once per cause, then at DEBUG (see
:mod:`mainflux.adapters.refusals`). An open socket whose right is revoked (thing
removed or disconnected, key changed, channel removed; see
:mod:`mainflux.adapters.live`) is closed with 1008. A client that reads too slowly
loses messages (its outbox holds ``max_outbox`` frames) instead of slowing the bus.
A publish failure because the bus is down closes the socket with 1011."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Final

import msgspec
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux.adapters.asgi import client_address, header, query_param, request_path, respond
from mainflux.adapters.live import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_THING,
    LiveSocket,
    LiveSockets,
)
from mainflux.adapters.refusals import RefusalLog
from mainflux.adapters.ws import serverlog
from mainflux.core.auth import ThingAccess
from mainflux.core.endpoints import THING, Reply, Spec
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
TRY_AGAIN_LATER: Final = 1013

SLOW_CLIENT_DROPS: Final = Counter(
    "mainflux_ws_dropped_total",
    "Messages not sent to a WebSocket client because its outbox was full.",
)
REFUSED: Final = Counter(
    "mainflux_ws_refused_total", "WebSocket handshakes refused, by status.", ["status"]
)
REVOKED_SOCKETS: Final = Counter(
    "mainflux_ws_revoked_total", "WebSockets closed because their access was revoked."
)


_MESSAGES: Final = {
    400: "malformed channel id or subtopic",
    403: Unauthorized.message,
    426: "a WebSocket upgrade request is expected here",
    429: "too many WebSockets for this thing",
    503: "the adapter is full, or the things service or the bus cannot be reached",
}
_BODIES: Final = {s: msgspec.json.encode({"error": m}) + b"\n" for s, m in _MESSAGES.items()}


class HandshakeQuery(msgspec.Struct, kw_only=True):
    """What a browser, which cannot set headers on a WebSocket, sends in the query."""

    authorization: str | None = msgspec.field(default=None, name="authorization")
    content_type: str | None = msgspec.field(default=None, name="content-type")


def _handshake_spec(path: str, operation_id: str, summary: str) -> Spec:
    return Spec(
        method="GET",
        path=path,
        summary=summary,
        operation_id=operation_id,
        description="Opens a WebSocket: each frame sent is published on the channel "
        "(protocol `ws`), and the channel's messages of this subtopic come back as frames "
        "(`*` and `>` subtopic elements are wildcards, such a socket only listens). The "
        "thing key goes in `Authorization` or `?authorization=`; "
        "`?content-type=application/senml+cbor` asks for binary frames.",
        tags=("messages",),
        query=HandshakeQuery,
        security=THING,
        ok=Reply(101, "Switching Protocols: the WebSocket is open."),
        errors={
            400: "Malformed channel id or subtopic.",
            426: "Not a WebSocket upgrade request.",
            429: "The thing holds too many WebSockets.",
            503: "The adapter is full, or the things service or the bus cannot be reached.",
        },
    )


#: The operations served by :class:`WsApp` itself, for the OpenAPI document.
HANDSHAKE_SPECS: Final = (
    _handshake_spec("/channels/{id}/messages", "websocket", "Open a WebSocket on a channel"),
    _handshake_spec(
        "/channels/{id}/messages/{subtopic}", "websocket_subtopic", "Open a WebSocket on a subtopic"
    ),
)


class _Refused(Exception):
    def __init__(self, status: int, cause: str) -> None:
        self.status = status
        self.cause = cause


class WsApp:
    """The raw ASGI app of the WebSocket adapter (see the module doc)."""

    def __init__(
        self,
        access: ThingAccess,
        bus: Bus,
        fallback: ASGIApp,
        *,
        max_outbox: int = 1024,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_connections_per_thing: int = DEFAULT_MAX_CONNECTIONS_PER_THING,
    ) -> None:
        self.access = access
        self.bus = bus
        self.fallback = fallback
        self.state: Any = getattr(fallback, "state", None)  # its OpenAPI document
        self.max_outbox = max_outbox
        self.live = LiveSockets(
            access, max_connections=max_connections, max_per_thing=max_connections_per_thing
        )
        self.refusals = RefusalLog(log, "WebSocket handshake")
        serverlog.install()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            if scope["type"] == "http" and request_path(scope)[0].startswith("/channels/"):
                headers = ((b"content-type", b"application/json"), (b"upgrade", b"websocket"))
                await respond(send, 426, headers, _BODIES[426])
                return
            await self.fallback(scope, receive, send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        if not self.live.reserve():
            await self._refuse(scope, send, _Refused(503, "adapter full"))
            return
        try:
            await self._handshake(scope, receive, send)
        finally:
            self.live.release()

    async def _handshake(self, scope: Scope, receive: Receive, send: Send) -> None:
        heard = self.live.revocations
        try:
            channel, subtopic, thing, key = await self._authorize(scope)
        except _Refused as refused:
            await self._refuse(scope, send, refused)
            return
        socket = LiveSocket(thing, channel, key)
        if not self.live.add(socket):
            await self._refuse(scope, send, _Refused(429, "too many connections for the thing"))
            return
        try:
            if self.live.revocations != heard:
                # A revocation arrived while the key was being checked: the answer may
                # predate it, so ask again (the socket is indexed now and hears the rest).
                try:
                    await self._check(channel, key)
                except _Refused as refused:
                    await self._refuse(scope, send, refused)
                    return
            await self._serve(scope, receive, send, socket, subtopic)
        finally:
            self.live.discard(socket)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, socket: LiveSocket, subtopic: str
    ) -> None:
        outbox: asyncio.Queue[bytes] = asyncio.Queue(self.max_outbox)

        async def deliver(message: Message) -> None:
            try:
                outbox.put_nowait(message.payload)
            except asyncio.QueueFull:
                SLOW_CLIENT_DROPS.inc()

        try:
            sub = await self.bus.subscribe(subject_of(socket.channel, subtopic), deliver)
        except ServiceUnavailable:
            await self._refuse(scope, send, _Refused(503, "message bus unavailable"))
            return
        try:
            if socket.revoked.done():
                await self._refuse(scope, send, _Refused(403, "access revoked"))
                return
            await send({"type": "websocket.accept"})
            binary = _content_type(scope) == CBOR
            sender = asyncio.create_task(_pump(outbox, send, binary))
            reader = asyncio.create_task(
                self._read_frames(receive, send, socket.channel, subtopic, socket.thing)
            )
            try:
                await asyncio.wait((reader, socket.revoked), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (reader, sender):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if socket.revoked.done() and reader.cancelled():
                REVOKED_SOCKETS.inc()
                log.debug(
                    "WebSocket of thing %s on %s closed: access revoked",
                    socket.thing,
                    socket.channel,
                )
                await _close(send, POLICY_VIOLATION, "access revoked")
        finally:
            await sub.unsubscribe()

    async def _authorize(self, scope: Scope) -> tuple[str, str, str, str]:
        path, escaped = request_path(scope)
        try:
            channel, subtopic = parse_topic(path, unescape=escaped)
        except MalformedEntity:
            raise _Refused(400, "bad path or subtopic") from None
        raw_key = header(scope, b"authorization")
        key = raw_key.decode("latin-1") if raw_key else ""
        if not key:
            key = query_param(scope.get("query_string", b""), "authorization") or ""
        if not key:
            raise _Refused(403, "no key")
        thing = await self._check(channel, key)
        return channel, subtopic, thing, key

    async def _check(self, channel: str, key: str) -> str:
        try:
            return await self.access.can_access_by_key(channel, key)
        except (Unauthorized, NotFound):
            raise _Refused(403, "wrong key or not connected") from None
        except MalformedEntity:
            raise _Refused(400, "malformed channel or key") from None
        except ServiceUnavailable:
            raise _Refused(503, "things service unavailable") from None

    async def _refuse(self, scope: Scope, send: Send, refused: _Refused) -> None:
        REFUSED.labels(str(refused.status)).inc()
        self.refusals.note(f"{refused.status} {refused.cause}", client_address(scope))
        await _refuse(scope, send, refused.status)

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
        body = _BODIES[status]
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
        serverlog.mark_denied()
    else:
        code = TRY_AGAIN_LATER if status in (429, 503) else POLICY_VIOLATION
        await send({"type": "websocket.close", "code": code})


def _content_type(scope: Scope) -> str:
    raw = header(scope, b"content-type")
    if raw:
        return raw.decode("latin-1").strip().lower()
    return (query_param(scope.get("query_string", b""), "content-type") or "").lower()
