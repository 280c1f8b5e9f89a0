"""A :class:`~mainflux.core.auth.UserAuth` that asks a remote authn service over gRPC.

Used by the microservices (users, things, ...) to turn user tokens into emails and to
issue login and recovery tokens."""

from __future__ import annotations

import grpc

from mainflux.core.auth import UserAuth
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.tls import ClientTLS, grpc_channel
from mainflux.proto import authn_pb2, authn_pb2_grpc

_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT)


class GrpcUserAuth:
    """Calls ``mainflux.AuthNService`` at ``url`` (``host:port``) with a per-call timeout.

    Raises ``Unauthorized`` when authn refuses the token or issuer and
    ``ServiceUnavailable`` when it cannot be reached in time or fails (also when the TLS
    handshake fails). The channel, over TLS when ``tls`` is given, is opened on first
    use; call :meth:`close` when done."""

    def __init__(self, url: str, timeout: float = 1.0, *, tls: ClientTLS | None = None) -> None:
        self._url = url
        self._timeout = timeout
        self._tls = tls
        self._channel: grpc.aio.Channel | None = None
        self._stub: authn_pb2_grpc.AuthNServiceStub | None = None

    def _client(self) -> authn_pb2_grpc.AuthNServiceStub:
        if self._stub is None:
            self._channel = grpc_channel(self._url, self._tls)
            self._stub = authn_pb2_grpc.AuthNServiceStub(self._channel)
        return self._stub

    async def identify(self, token: str) -> str:
        """Return the email behind ``token``."""
        if not token:
            raise Unauthorized()
        try:
            reply = await self._client().Identify(
                authn_pb2.Token(value=token), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from None
        return str(reply.value)

    async def issue(self, issuer: str, key_type: int) -> str:
        """Return a token of ``key_type`` for the email ``issuer``."""
        try:
            reply = await self._client().Issue(
                authn_pb2.IssueReq(issuer=issuer, type=key_type), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from None
        return str(reply.value)

    async def close(self) -> None:
        """Close the channel, if one was opened."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None


def _translate(exc: grpc.aio.AioRpcError) -> Exception:
    if exc.code() in _REFUSED:
        return Unauthorized()
    return ServiceUnavailable(f"authn service: {exc.code().name.lower()}")


_check: type[UserAuth] = GrpcUserAuth
