"""The authn gRPC face: ``mainflux.AuthNService`` (``Issue``, ``Identify``) of ``authn.proto``
and, on the same port, ``mainflux.AuthNAccountsService`` (``IdentifyRecovery``,
``RevokeAllKeys``) of ``authn_accounts.proto``, which the users service calls.

Status codes follow Go Mainflux: an empty issuer is ``UNAUTHENTICATED``, a bad key type
``INVALID_ARGUMENT``; an empty token is ``INVALID_ARGUMENT``, a bad, expired, revoked or
recovery one ``UNAUTHENTICATED`` (``Identify`` accepts login and API keys only);
anything else ``INTERNAL``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
from google.protobuf import empty_pb2

from mainflux.authn.service import AuthnService
from mainflux.core.errors import MainfluxError, MalformedEntity, Unauthorized
from mainflux.core.runner import StartupError, bind_socket
from mainflux.core.tls import ServerTLS, add_port
from mainflux.proto import authn_accounts_pb2_grpc, authn_pb2, authn_pb2_grpc

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


class AuthnAccountsServicer(authn_accounts_pb2_grpc.AuthNAccountsServiceServicer):
    """Answers ``mainflux.AuthNAccountsService`` calls with an :class:`AuthnService`."""

    def __init__(self, service: AuthnService) -> None:
        self._service = service

    async def IdentifyRecovery(
        self, request: authn_pb2.Token, context: grpc.aio.ServicerContext
    ) -> authn_pb2.UserID:
        """Return the email behind the recovery token ``request.value``."""
        if not request.value:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "received invalid token request")
        try:
            email = await self._service.identify_recovery(request.value)
        except Unauthorized:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid credentials")
        except MainfluxError as exc:
            log.error("identify recovery failed: %s", type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        return authn_pb2.UserID(value=email)

    async def RevokeAllKeys(
        self, request: authn_pb2.UserID, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        """Void every key of the email ``request.value`` issued until now."""
        if not request.value:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "missing email")
        try:
            await self._service.revoke_all_keys(request.value)
        except MainfluxError as exc:
            log.error("revoke all keys failed: %s", type(exc).__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        return empty_pb2.Empty()


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
    """Start serving authn's gRPC services on ``host:port`` (0 picks a free port).

    Serves over TLS when ``tls`` is given. Raises
    :class:`~mainflux.core.runner.StartupError` naming ``setting`` when the port is taken."""
    if port != 0:
        bind_socket(host, port, setting).close()  # fail with one clear line when busy
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    authn_pb2_grpc.add_AuthNServiceServicer_to_server(AuthnServicer(service), server)
    authn_accounts_pb2_grpc.add_AuthNAccountsServiceServicer_to_server(
        AuthnAccountsServicer(service), server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = add_port(server, address, tls)
    except RuntimeError:
        raise StartupError(f"{setting}: cannot listen on {host}:{port}") from None
    await server.start()
    return GrpcServer(server, bound)
