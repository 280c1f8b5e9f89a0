"""Clients other services use to reach the things service.

:class:`GrpcThingAccess` asks ``mainflux.ThingsService`` over gRPC (adapters in
microservice mode); :class:`HttpChannelOwner` asks the management API whether a user
owns a channel (readers, twins). Both raise the core errors: ``Unauthorized`` for a
refused credential, ``ServiceUnavailable`` when the service cannot answer."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar
from urllib.parse import quote

import grpc
import httpx

from mainflux.core.auth import ChannelOwner, ThingAccess
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.remote import call_service
from mainflux.core.retry import Backoff
from mainflux.core.tls import ClientTLS, grpc_channel
from mainflux.proto import authn_pb2, authn_pb2_grpc

T = TypeVar("T")

#: Calls to the things service one client has in flight at most (others queue).
DEFAULT_MAX_CALLS: Final = 128

_REFUSED = frozenset(
    {
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.NOT_FOUND,
    }
)


class GrpcThingAccess:
    """A :class:`ThingAccess` over gRPC to ``url`` (``host:port``). The channel opens on
    first use, over TLS when ``tls`` is given (a failed handshake is
    ``ServiceUnavailable``).

    At most ``max_calls`` calls are in flight; other checks queue here, so a burst of
    devices does not pile thousands of calls onto the service, and a call's timeout
    measures the service rather than the queue. A check's first call is bounded by
    ``timeout`` seconds. A busy things service is not a refusal: while ``patience``
    seconds (counted from the check's start, queueing included) are not used up, a
    call that timed out is made again with all the time that is left (the service is
    slow, not gone), and one the service could not take (``UNAVAILABLE``: not
    listening yet, or restarting) is made again after a short, growing pause. Only a
    definite refusal (``PERMISSION_DENIED``, ``INVALID_ARGUMENT``, ``UNAUTHENTICATED``,
    ``NOT_FOUND``) is ``Unauthorized``; a check that got no answer in time is
    ``ServiceUnavailable``."""

    def __init__(
        self,
        url: str,
        timeout: float,
        *,
        tls: ClientTLS | None = None,
        patience: float = 0.0,
        max_calls: int = DEFAULT_MAX_CALLS,
    ) -> None:
        self._url = url
        self._slots = asyncio.Semaphore(max_calls)
        self._timeout = timeout
        self._patience = patience
        self._tls = tls
        self._channel: grpc.aio.Channel | None = None
        self._stub: authn_pb2_grpc.ThingsServiceStub | None = None
        self.retries = 0  # calls made again (for tests and benchmarks)

    def _get_stub(self) -> authn_pb2_grpc.ThingsServiceStub:
        if self._stub is None:
            self._channel = grpc_channel(self._url, self._tls)
            self._stub = authn_pb2_grpc.ThingsServiceStub(self._channel)
        return self._stub

    async def _ask(self, call: Callable[[float], Awaitable[T]]) -> T:
        """``call(timeout)`` within this client's patience (see the class doc)."""
        start = time.monotonic()
        deadline = start + self._patience
        try:
            await asyncio.wait_for(self._slots.acquire(), max(self._patience, self._timeout))
        except TimeoutError:
            raise ServiceUnavailable("things service unavailable") from None
        try:
            timeout = self._timeout
            pause = Backoff(first=0.05, most=1.0)
            while True:
                try:
                    return await call(timeout)
                except grpc.aio.UsageError:  # closed meanwhile: the process is stopping
                    raise ServiceUnavailable("things service client closed") from None
                except grpc.aio.AioRpcError as exc:
                    error = _error(exc)
                    left = deadline - time.monotonic()
                    if isinstance(error, Unauthorized) or left <= 0:
                        raise error from None
                    if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                        timeout = left
                    else:
                        await asyncio.sleep(min(pause.next_delay(), left))
                        timeout = min(self._timeout, max(deadline - time.monotonic(), 0.001))
                    self.retries += 1
        finally:
            self._slots.release()

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        """The thing id of ``key`` when connected to the channel."""
        request = authn_pb2.AccessByKeyReq(token=key, chanID=channel_id)
        stub = self._get_stub()
        reply = await self._ask(lambda timeout: stub.CanAccessByKey(request, timeout=timeout))
        return reply.value

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        """Return when the thing is connected to the channel."""
        request = authn_pb2.AccessByIDReq(thingID=thing_id, chanID=channel_id)
        stub = self._get_stub()
        await self._ask(lambda timeout: stub.CanAccessByID(request, timeout=timeout))

    async def identify(self, key: str) -> str:
        """The thing id of ``key``."""
        request = authn_pb2.Token(value=key)
        stub = self._get_stub()
        reply = await self._ask(lambda timeout: stub.Identify(request, timeout=timeout))
        return reply.value

    async def close(self) -> None:
        """Close the gRPC channel."""
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None


def _error(exc: grpc.aio.AioRpcError) -> Exception:
    if exc.code() in _REFUSED:
        return Unauthorized()
    return ServiceUnavailable("things service unavailable")


class HttpChannelOwner:
    """A :class:`ChannelOwner` that asks ``GET <things_url>/channels/<id>`` with the
    user's token. ``transport`` replaces the network (e.g. an in-process app);
    ``verify`` is what an ``https`` URL's certificate is checked against (default: the
    system roots)."""

    def __init__(
        self,
        things_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._base = things_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport
        self._verify = verify
        self._client: httpx.AsyncClient | None = None

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        """Return when the token's owner owns the channel.

        Raises ``Unauthorized`` (403), ``NotFound`` (404) or ``ServiceUnavailable``
        (see :func:`~mainflux.core.remote.call_service`)."""
        if not token:
            raise Unauthorized()
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, verify=self._verify
            )
        url = f"{self._base}/channels/{quote(channel_id, safe='')}"
        await call_service(self._client, "GET", url, service="the things service", token=token)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None


_check_grpc: type[ThingAccess] = GrpcThingAccess
_check_http: type[ChannelOwner] = HttpChannelOwner
