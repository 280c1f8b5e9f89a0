"""A :class:`~mainflux.core.auth.UserAuth` that asks a remote authn service over gRPC.

Used by the microservices (users, things, ...) to turn user tokens into emails and to
issue login and recovery tokens; the users service also checks recovery tokens and
revokes a user's keys through ``mainflux.AuthNAccountsService``."""

from __future__ import annotations

from typing import Final

import grpc

from mainflux.core.auth import UserAuth
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.tls import ClientTLS, grpc_channel
from mainflux.proto import authn_accounts_pb2_grpc, authn_pb2, authn_pb2_grpc

_REFUSED: Final = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT})
#: Answers that mean authn could not be asked, rather than that it refused the token.
_UNREACHABLE: Final = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


class GrpcUserAuth:
    """Calls ``mainflux.AuthNService`` at ``url`` (``host:port``) with a per-call timeout.

    Raises ``Unauthorized`` when authn refuses the token or issuer and
    ``ServiceUnavailable`` when it cannot be reached in time (also when the TLS
    handshake fails). As in Go Mainflux, any other failure to identify a token (Go's
    authn answers ``INTERNAL`` for a revoked API key) is ``Unauthorized``. The channel,
    over TLS when ``tls`` is given, is opened on first use; call :meth:`close` when done."""

    def __init__(self, url: str, timeout: float = 1.0, *, tls: ClientTLS | None = None) -> None:
        self._url = url
        self._timeout = timeout
        self._tls = tls
        self._channel: grpc.aio.Channel | None = None
        self._stub: authn_pb2_grpc.AuthNServiceStub | None = None
        self._accounts: authn_accounts_pb2_grpc.AuthNAccountsServiceStub | None = None

    def _open(self) -> grpc.aio.Channel:
        if self._channel is None:
            self._channel = grpc_channel(self._url, self._tls)
        return self._channel

    def _client(self) -> authn_pb2_grpc.AuthNServiceStub:
        if self._stub is None:
            self._stub = authn_pb2_grpc.AuthNServiceStub(self._open())
        return self._stub

    def _accounts_client(self) -> authn_accounts_pb2_grpc.AuthNAccountsServiceStub:
        if self._accounts is None:
            self._accounts = authn_accounts_pb2_grpc.AuthNAccountsServiceStub(self._open())
        return self._accounts

    async def identify(self, token: str) -> str:
        """Return the email behind ``token``."""
        if not token:
            raise Unauthorized()
        try:
            reply = await self._client().Identify(
                authn_pb2.Token(value=token), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate_identify(exc) from None
        return str(reply.value)

    async def identify_recovery(self, token: str) -> str:
        """Return the email behind a recovery ``token`` (nothing else is accepted)."""
        if not token:
            raise Unauthorized()
        try:
            reply = await self._accounts_client().IdentifyRecovery(
                authn_pb2.Token(value=token), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from None
        return str(reply.value)

    async def revoke_all_keys(self, email: str) -> None:
        """Void every key of ``email`` issued until now."""
        try:
            await self._accounts_client().RevokeAllKeys(
                authn_pb2.UserID(value=email), timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _translate(exc) from None

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
            self._accounts = None


def _translate(exc: grpc.aio.AioRpcError) -> Exception:
    if exc.code() in _REFUSED:
        return Unauthorized()
    return ServiceUnavailable(f"authn service: {exc.code().name.lower()}")


def _translate_identify(exc: grpc.aio.AioRpcError) -> Exception:
    """Unreachable is ``ServiceUnavailable``; any other answer refuses the token."""
    if exc.code() in _UNREACHABLE:
        return ServiceUnavailable(f"authn service: {exc.code().name.lower()}")
    return Unauthorized()


_check: type[UserAuth] = GrpcUserAuth
