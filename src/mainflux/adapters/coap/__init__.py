"""The CoAP adapter (``mainflux-coap``): constrained devices publish and observe.

:func:`open_server` serves :class:`~mainflux.adapters.coap.resource.MessagesResource`
on a UDP address with aiocoap; :func:`create_http_app` is the small HTTP face
(``/version``, ``/health``, ``/metrics``) served on the same port number over TCP."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

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
    for interface in _udp_interfaces(context):
        _retry_stale_refusals(interface)
    _follow_resets(context, resource)
    try:
        yield resource
    finally:
        await context.shutdown()


def _follow_resets(context: object, resource: MessagesResource) -> None:
    """Let an RST to a NON notification end its observation (aiocoap 0.4 matches RSTs
    to confirmable messages only): incoming RSTs are shown to ``resource.reset``, which
    ends an observation through aiocoap's own stop of the registration."""
    for request_interface in getattr(context, "request_interfaces", ()):
        requests = getattr(request_interface, "incoming_requests", None)
        manager: Any = getattr(request_interface, "token_interface", None)
        if not isinstance(requests, dict) or not hasattr(manager, "dispatch_message"):
            continue
        dispatch = manager.dispatch_message

        def deregister(request: aiocoap.Message, requests: dict[Any, Any] = requests) -> None:
            held = requests.get((request.token, request.remote))
            if held is not None and held[0].request is request:
                held[1]()  # aiocoap's stop: the render task is cancelled

        def dispatch_seeing_resets(message: aiocoap.Message, dispatch: Any = dispatch) -> None:
            if message.mtype == aiocoap.RST and message.mid is not None:
                resource.reset(message.remote, message.mid)
            dispatch(message)

        resource.deregister = deregister
        manager.dispatch_message = dispatch_seeing_resets
        return


def _udp_interfaces(context: object) -> list[Any]:
    """aiocoap's UDP message interfaces under ``context`` (where 0.4 keeps them)."""
    found = []
    for request_interface in getattr(context, "request_interfaces", ()):
        manager = getattr(request_interface, "token_interface", None)
        interface = getattr(manager, "message_interface", None)
        if hasattr(interface, "send") and hasattr(interface, "error_received"):
            found.append(interface)
    return found


def _retry_stale_refusals(interface: Any) -> None:
    """Keep one client's ICMP "port unreachable" from ending another client's exchanges.

    Linux reports the ICMP error of a datagram to a closed port on the socket's next
    send, whatever its destination, and aiocoap 0.4 blames that send's destination: a
    vanished observer would take the next observer's observations down with it. The
    error is also queued with its real address, which aiocoap reads and dispatches; so a
    send refused this way is sent again once (the pending error is gone by then), and
    only a second refusal is taken as the destination's."""
    send, error_received = interface.send, interface.error_received
    sending: list[list[BaseException]] = []

    def error_received_once(exc: BaseException) -> None:
        if sending and isinstance(exc, ConnectionRefusedError) and not sending[-1]:
            sending[-1].append(exc)  # stale: sent again below
            return
        error_received(exc)

    def send_again_if_stale(message: Any) -> None:
        sending.append([])
        try:
            send(message)
            refused = sending[-1]
        finally:
            sending.pop()
        if refused:
            send(message)

    interface.error_received = error_received_once
    interface.send = send_again_if_stale


__all__ = ["SERVICE", "MessagesResource", "Tuning", "create_http_app", "open_server"]
