"""The CoAP adapter (``mainflux-coap``): constrained devices publish and observe.

:func:`open_server` serves :class:`~mainflux.adapters.coap.resource.MessagesResource`
on a UDP address with aiocoap; :func:`create_http_app` is the small HTTP face
(``/version``, ``/health``, ``/metrics``) served on the same port number over TCP."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiocoap
from aiocoap.pipe import Pipe, error_to_message, run_driving_pipe
from starlette.types import ASGIApp

from mainflux.adapters.coap.resource import MessagesResource, Tuning, pinger
from mainflux.core.auth import ThingAccess
from mainflux.core.http import create_app as create_service_app
from mainflux.messaging.bus import Bus

SERVICE = "coap"


class _Context(aiocoap.Context):  # type: ignore[misc]
    """aiocoap's context without its per-request cost of naming each request's task
    after the whole request (``repr`` of the message and its address, every time)."""

    def render_to_pipe(self, pipe: Pipe) -> None:
        run_driving_pipe(error_to_message(pipe, self.log), self._render_to_pipe(pipe))


def create_http_app() -> ASGIApp:
    """``GET /version``, ``/health`` and ``/metrics`` of the CoAP adapter."""
    return create_service_app(SERVICE, [])


@contextlib.asynccontextmanager
async def open_server(
    access: ThingAccess, bus: Bus, host: str, port: int, tuning: Tuning | None = None
) -> AsyncIterator[MessagesResource]:
    """Serve CoAP on UDP ``host:port`` inside the block; yield the resource (its
    :attr:`~MessagesResource.observers` tell who observes).

    Raises ``OSError`` when the address cannot be bound."""
    resource = MessagesResource(access, bus, tuning)
    # aiocoap logs every malformed datagram and retransmission at INFO or WARNING;
    # those are the clients' business.
    logging.getLogger("coap-server").setLevel(logging.ERROR)
    context = await _Context.create_server_context(
        resource, bind=(host, port), loggername="coap-server", transports=["udp6"]
    )
    resource.ping = pinger(context, resource.tuning)
    try:
        yield resource
    finally:
        await context.shutdown()


__all__ = ["SERVICE", "MessagesResource", "Tuning", "create_http_app", "open_server"]
