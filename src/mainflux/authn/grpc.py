"""The authn gRPC face: ``mainflux.AuthNService`` (``Issue``, ``Identify``) of ``authn.proto``.

Status codes follow Go Mainflux: an empty issuer is ``UNAUTHENTICATED``, a bad key type
``INVALID_ARGUMENT``; an empty token is ``INVALID_ARGUMENT``, a bad or expired one
``UNAUTHENTICATED``; anything else ``INTERNAL``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from mainflux.authn.service import AuthnService
from mainflux.core.errors import MainfluxError, MalformedEntity, Unauthorized
from mainflux.core.runner import StartupError, bind_socket
from mainflux.core.tls import ServerTLS, add_port
from mainflux.proto import authn_pb2, authn_pb2_grpc

log = logging.getLogger(__name__)


class AuthnServicer(authn_pb2_grpc.AuthNServiceServicer):
    """Answers ``mainflux.AuthNService`` calls with an :class:`AuthnService`."""

    def __init__(self, service: AuthnService) -> None:
        self._service = service

    async def Issue(
        self, request: authn_pb2.IssueReq, context: grpc.aio.ServicerContext
    ) -> authn_pb2.Token:
        """Issue a token of ``request.type`` for ``request.issuer``."""
        try:
            token = await self._service.issue(request.issuer, request.type)
        except Unauthorized:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials")
        except MalformedEntity:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid key type")
        except MainfluxError as exc:
            log.error("issue failed: %s", type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        return authn_pb2.Token(value=token)

    async def Identify(
        self, request: authn_pb2.Token, context: grpc.aio.ServicerContext
    ) -> authn_pb2.UserID:
        """Return the email behind ``request.value``."""
        if not request.value:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "received invalid token request")
        try:
            email = await self._service.identify(request.value)
        except Unauthorized:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials")
        except MainfluxError as exc:
            log.error("identify failed: %s", type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        return authn_pb2.UserID(value=email)


@dataclass(slots=True)
class GrpcServer:
    """A started gRPC server and the port it listens on."""

    server: grpc.aio.Server
    port: int

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop accepting calls and finish the running ones within ``grace`` seconds."""
        await self.server.stop(grace)


async def start_grpc_server(
    service: AuthnService,
    host: str = "0.0.0.0",
    port: int = 8181,
    *,
    setting: str = "MF_AUTHN_GRPC_PORT",
    tls: ServerTLS | None = None,
) -> GrpcServer:
    """Start serving ``mainflux.AuthNService`` on ``host:port`` (0 picks a free port).

    Serves over TLS when ``tls`` is given. Raises
    :class:`~mainflux.core.runner.StartupError` naming ``setting`` when the port is taken."""
    if port != 0:
        bind_socket(host, port, setting).close()  # fail with one clear line when busy
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    authn_pb2_grpc.add_AuthNServiceServicer_to_server(AuthnServicer(service), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = add_port(server, address, tls)
    except RuntimeError:
        raise StartupError(f"{setting}: cannot listen on {host}:{port}") from None
    await server.start()
    return GrpcServer(server, bound)
