"""The things service's gRPC face: ``mainflux.ThingsService`` of Mainflux's ``authn.proto``.

``CanAccessByKey``, ``CanAccessByID`` and ``Identify`` answer with Mainflux's codes:
empty fields are ``INVALID_ARGUMENT``, a wrong key or a missing connection is
``PERMISSION_DENIED``, an unreachable dependency ``UNAVAILABLE``, anything else
``INTERNAL``."""

from __future__ import annotations

import logging
from typing import Final, NoReturn

import grpc
from google.protobuf import empty_pb2

from mainflux.core.auth import ThingAccess
from mainflux.core.errors import MalformedEntity, NotFound, ServiceUnavailable, Unauthorized
from mainflux.core.runner import StartupError, bind_socket
from mainflux.core.tls import ServerTLS, add_port
from mainflux.proto import authn_pb2, authn_pb2_grpc

PORT_SETTING: Final = "MF_THINGS_AUTH_GRPC_PORT"
INVALID_REQUEST: Final = "received invalid can access request"
DENIED: Final = "missing or invalid credentials provided"

log = logging.getLogger("mainflux.things.grpc")


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, MalformedEntity):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, INVALID_REQUEST)
    if isinstance(exc, Unauthorized | NotFound):
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, DENIED)
    if isinstance(exc, ServiceUnavailable):
        await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
    log.error("access check failed: %s", type(exc).__name__)
    await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
    raise AssertionError("context.abort returned")  # it always raises


class ThingsServicer(authn_pb2_grpc.ThingsServiceServicer):
    """Serves ``mainflux.ThingsService`` from a :class:`ThingAccess`."""

    def __init__(self, access: ThingAccess) -> None:
        self._access = access

    async def CanAccessByKey(
        self, request: authn_pb2.AccessByKeyReq, context: grpc.aio.ServicerContext
    ) -> authn_pb2.ThingID:
        """The id of the thing with key ``token`` if it is connected to ``chanID``."""
        try:
            if not request.token or not request.chanID:
                raise MalformedEntity()
            thing_id = await self._access.can_access_by_key(request.chanID, request.token)
        except Exception as exc:
            await _abort(context, exc)
        return authn_pb2.ThingID(value=thing_id)

    async def CanAccessByID(
        self, request: authn_pb2.AccessByIDReq, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Empty when thing ``thingID`` is connected to ``chanID``."""
        try:
            if not request.thingID or not request.chanID:
                raise MalformedEntity()
            await self._access.can_access_by_id(request.chanID, request.thingID)
        except Exception as exc:
            await _abort(context, exc)
        return empty_pb2.Empty()

    async def Identify(
        self, request: authn_pb2.Token, context: grpc.aio.ServicerContext
    ) -> authn_pb2.ThingID:
        """The id of the thing whose key is ``value``."""
        try:
            if not request.value:
                raise MalformedEntity()
            thing_id = await self._access.identify(request.value)
        except Exception as exc:
            await _abort(context, exc)
        return authn_pb2.ThingID(value=thing_id)


async def start_grpc_server(
    access: ThingAccess,
    port: int,
    host: str = "0.0.0.0",
    *,
    setting: str = PORT_SETTING,
    tls: ServerTLS | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Start serving ``mainflux.ThingsService``; return the server and its port.

    Port 0 picks a free port; ``tls`` makes it serve over TLS. Raises
    :class:`StartupError` naming ``setting`` when the port cannot be bound (the port is
    not shared with another process)."""
    if port != 0:
        bind_socket(host, port, setting).close()  # a busy port fails here, cleanly
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    authn_pb2_grpc.add_ThingsServiceServicer_to_server(ThingsServicer(access), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = add_port(server, address, tls)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise StartupError(f"{setting}: cannot listen on {host}:{port}")
    await server.start()
    return server, bound
