"""Listeners: MQTT over TCP, over TLS, and over WebSocket, all feeding one broker.

The broker bounds the sockets that have not finished their MQTT CONNECT. The WebSocket
listener is an HTTP port like every other of the platform (the ``MF_HTTP_*`` bounds on
request heads, request time, idle time and connections, see
:func:`mainflux.core.runner.http_config`), and applies besides the broker's bounds to
sockets that have not sent their HTTP request yet."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

import uvicorn

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.handshake import connection_factory
from mainflux.adapters.mqtt.ws import create_ws_app
from mainflux.core.guard import GuardedHttpToolsProtocol
from mainflux.core.limits import HttpLimits
from mainflux.core.runner import StartupError, bind_socket, http_config


def tls_context(cert: str, key: str, setting: str) -> ssl.SSLContext:
    """A server TLS context from PEM files; a bad file stops start-up naming ``setting``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"{setting}: cannot load the certificate and key: {exc}") from None
    return context


class Listeners:
    """The running servers of one broker; ports are known once :meth:`start` returned.

    ``http`` bounds the HTTP side of the WebSocket listener (default: ``HttpLimits()``)."""

    def __init__(self, broker: Broker, http: HttpLimits | None = None) -> None:
        self.broker = broker
        self.http = http or HttpLimits()
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._http: list[uvicorn.Server] = []
        self.ports: dict[str, int] = {}

    async def tcp(
        self,
        host: str,
        port: int,
        setting: str,
        context: ssl.SSLContext | None = None,
        name: str = "mqtt",
    ) -> int:
        """Serve MQTT (over TLS when ``context`` is given) on ``host:port``."""
        sock = bind_socket(host, port, setting)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            connection_factory(self.broker), sock=sock, ssl=context, backlog=4096
        )
        self._servers.append(server)
        bound = sock.getsockname()[1]
        self.ports[name] = bound
        return int(bound)

    async def websocket(self, host: str, port: int, setting: str) -> int:
        """Serve MQTT over WebSocket (path ``/mqtt``) on ``host:port``."""
        sock = bind_socket(host, port, setting)
        bound = int(sock.getsockname()[1])
        config = http_config(
            create_ws_app(self.broker, service_routes=True),
            self.http,
            lifespan="off",
            ws_max_size=self.broker.limits.max_packet_size + 16,
            ws_ping_interval=None,
            timeout_graceful_shutdown=2,
        )
        config.http = guarded_http(self.broker, config.http)
        server = uvicorn.Server(config)
        self._http.append(server)
        self._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        for _ in range(200):
            if server.started or self._tasks[-1].done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            raise StartupError(f"{setting}: the WebSocket listener failed to start")
        self.ports["ws"] = bound
        return bound

    async def close(self) -> None:
        """Stop accepting; existing connections are the broker's to close."""
        for server in self._servers:
            server.close()
        for http in self._http:
            http.should_exit = True
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)
        self._http.clear()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        self._tasks.clear()

    def status(self) -> dict[str, Any]:
        """The bound ports by listener name."""
        return dict(self.ports)


def guarded_http(broker: Broker, base: Any) -> type[GuardedHttpToolsProtocol]:
    """``base`` (the port's bounded HTTP protocol class) under the broker's handshake bounds
    too: at most ``max_connections`` sockets, of which at most
    ``max_pending_connections`` without a complete request (beyond it the oldest of
    those is dropped), each dropped when it has none after ``connect_timeout`` seconds."""
    pending: dict[GuardedHttp, None] = {}  # oldest first

    class GuardedHttp(base):  # type: ignore[misc, valid-type]
        _handshake_deadline: asyncio.TimerHandle | None = None
        _over_broker_bound = False

        def connection_made(self, transport: Any) -> None:
            limits = broker.limits
            if len(self.connections) >= limits.max_connections:
                self._over_broker_bound = True
                broker.stats.connections_refused += 1
                broker.notices.refused(
                    "WebSocket connection limit reached (MF_MQTT_ADAPTER_MAX_CONNECTIONS)"
                )
                transport.abort()
                return
            if len(pending) >= limits.max_pending_connections:
                broker.stats.handshakes_dropped += 1
                broker.notices.refused(
                    "oldest WebSocket connection without a request dropped "
                    "(MF_MQTT_ADAPTER_MAX_PENDING_CONNECTIONS)"
                )
                oldest = next(iter(pending))
                oldest._settle()
                oldest.transport.abort()
            super().connection_made(transport)
            if transport.is_closing():  # the port's own bound refused it
                return
            pending[self] = None
            self._handshake_deadline = self.loop.call_later(
                limits.connect_timeout, self._handshake_expired
            )

        def on_headers_complete(self) -> None:
            self._settle()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._settle()
            if not self._over_broker_bound:
                super().connection_lost(exc)

        def _settle(self) -> None:
            pending.pop(self, None)
            if self._handshake_deadline is not None:
                self._handshake_deadline.cancel()
                self._handshake_deadline = None

        def _handshake_expired(self) -> None:
            self._handshake_deadline = None
            pending.pop(self, None)
            broker.stats.connect_timeouts += 1
            broker.notices.refused("no WebSocket request in time (MF_MQTT_ADAPTER_CONNECT_TIMEOUT)")
            self.transport.abort()

    return GuardedHttp
