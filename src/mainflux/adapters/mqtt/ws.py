"""MQTT over WebSocket as an ASGI app (path ``/mqtt``, subprotocol ``mqtt``).

Each binary frame carries MQTT bytes (a packet may span frames, or a frame hold
several); they feed the same :class:`Connection` the TCP listener uses, through a
small transport that turns writes into frames."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Final

from starlette.types import Receive, Scope, Send

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.connection import Connection
from mainflux.adapters.mqtt.handshake import connection_factory

PATHS = ("/mqtt", "/mqtt/")
_UPGRADE_ONLY: Final = b'{"error":"MQTT over WebSocket only: an upgrade request is expected"}\n'
SUBPROTOCOLS = ("mqtt", "mqttv3.1")
SERVICE: Final = "mqtt-adapter"
_TITLE: Final = "Mainflux MQTT over WebSocket"


class WebSocketTransport:
    """The asyncio-transport face of one WebSocket, as :class:`Connection` needs it."""

    def __init__(self, conn: Connection, peer: Any) -> None:
        self._conn = conn
        self._peer = peer
        self._out: list[bytes] = []
        self._size = 0
        self._high = 1 << 20
        self._paused = False
        self._closing = False
        self._aborted = False
        self.wake = asyncio.Event()
        self.reading = asyncio.Event()
        self.reading.set()

    def write(self, data: bytes) -> None:
        if self._closing:
            return
        self._out.append(data)
        self._size += len(data)
        self.wake.set()
        if not self._paused and self._size > self._high:
            self._paused = True
            self._conn.pause_writing()

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def take(self) -> bytes:
        """Everything written so far, as one frame's payload."""
        data = b"".join(self._out)
        self._out = []
        self._size = 0
        self.wake.clear()
        if self._paused:
            self._paused = False
            self._conn.resume_writing()
        return data

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = high or self._high

    def get_write_buffer_size(self) -> int:
        return self._size

    def pause_reading(self) -> None:
        self.reading.clear()

    def resume_reading(self) -> None:
        self.reading.set()

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True
        self.wake.set()
        self.reading.set()

    def abort(self) -> None:
        self._aborted = True
        self._out = []
        self.close()

    @property
    def aborted(self) -> bool:
        """Whether the socket is to be dropped without sending what is queued."""
        return self._aborted

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._peer if name == "peername" else default


def create_ws_app(broker: Broker, *, service_routes: bool = False) -> Any:
    """An ASGI app serving MQTT over WebSocket at ``/mqtt`` for ``broker``.

    ``service_routes``: other HTTP requests go to the service's ``/health``,
    ``/metrics``, ``/version`` and OpenAPI routes (the adapter's own listener; a gateway
    mounting the app at ``/mqtt`` has its own)."""
    connection = connection_factory(broker)
    fallback = _service_app() if service_routes else None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                try:
                    message = await receive()
                except asyncio.CancelledError:
                    return
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http":
            if fallback is not None and scope["path"] not in PATHS:
                await fallback(scope, receive, send)
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 404 if scope["path"] not in PATHS else 426,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _UPGRADE_ONLY})
            return
        if scope["type"] != "websocket":
            return
        if scope["path"] not in PATHS:
            await send({"type": "websocket.close", "code": 1008})
            return
        await _serve(connection, scope, receive, send)

    openapi = fallback.state.openapi if fallback is not None else _document
    app.state = SimpleNamespace(openapi=openapi)  # type: ignore[attr-defined]

    return app


async def _serve(
    connection: Callable[[], Connection], scope: Scope, receive: Receive, send: Send
) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    offered = scope.get("subprotocols") or []
    chosen = next((p for p in offered if p in SUBPROTOCOLS), None)
    await send({"type": "websocket.accept", "subprotocol": chosen})
    conn = connection()
    transport = WebSocketTransport(conn, scope.get("client"))
    conn.connection_made(transport)
    sender = asyncio.create_task(_send_loop(transport, send))
    try:
        while not transport.is_closing():
            if not transport.reading.is_set():
                await transport.reading.wait()
                continue
            receiving = asyncio.ensure_future(receive())
            closing = asyncio.ensure_future(sender)
            done, _ = await asyncio.wait({receiving, closing}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                conn.fail("text frame on an MQTT WebSocket")
                break
            conn.data_received(data)
    finally:
        transport.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(sender), 5)
        sender.cancel()
        conn.connection_lost(None)


async def _send_loop(transport: WebSocketTransport, send: Send) -> None:
    try:
        while True:
            await transport.wake.wait()
            data = transport.take()
            if data and not transport.aborted:
                await send({"type": "websocket.send", "bytes": data})
            if transport.is_closing():
                break
        await send({"type": "websocket.close", "code": 1000})
    except Exception:  # the peer went away; the receive side notices too
        return


def _service_app() -> Any:
    """``/health``, ``/metrics``, ``/version`` and the OpenAPI document of the adapter."""
    from mainflux.core.http import create_app

    return create_app(SERVICE, [], title=_TITLE, documented=[_upgrade_spec()])


def _document() -> dict[str, Any]:
    """The OpenAPI document of ``GET /mqtt`` (the WebSocket upgrade)."""
    from mainflux.core.openapi import build_document

    return build_document(_TITLE, [_upgrade_spec()])


def _upgrade_spec() -> Any:
    from mainflux.core.endpoints import Reply, Spec

    return Spec(
        method="GET",
        path="/mqtt",
        summary="MQTT over WebSocket",
        operation_id="mqtt_websocket",
        description="Upgrades to a WebSocket (subprotocol `mqtt`) carrying MQTT 3.1.1 or 5 "
        "packets: username the thing id, password the thing key, topics "
        "`channels/<id>/messages[/<subtopic>]`.",
        tags=("messages",),
        ok=Reply(101, "Switching Protocols: the MQTT session may start."),
        errors={426: "Not a WebSocket upgrade request."},
    )
