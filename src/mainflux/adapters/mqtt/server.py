"""Listeners: MQTT over TCP, over TLS, and over WebSocket, all feeding one broker."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Any

import uvicorn

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.ws import create_ws_app
from mainflux.core.runner import StartupError, bind_socket


def tls_context(cert: str, key: str, setting: str) -> ssl.SSLContext:
    """A server TLS context from PEM files; a bad file stops start-up naming ``setting``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"{setting}: cannot load the certificate and key: {exc}") from None
    return context


class Listeners:
    """The running servers of one broker; ports are known once :meth:`start` returned."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
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
            self.broker.protocol, sock=sock, ssl=context, backlog=4096
        )
        self._servers.append(server)
        bound = sock.getsockname()[1]
        self.ports[name] = bound
        return int(bound)

    async def websocket(self, host: str, port: int, setting: str) -> int:
        """Serve MQTT over WebSocket (path ``/mqtt``) on ``host:port``."""
        sock = bind_socket(host, port, setting)
        bound = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_ws_app(self.broker),
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="none",
            http="httptools",
            ws="websockets-sansio",
            ws_max_size=self.broker.limits.max_packet_size + 16,
            ws_ping_interval=None,
            timeout_graceful_shutdown=2,
        )
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
