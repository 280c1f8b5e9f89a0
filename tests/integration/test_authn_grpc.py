"""``mainflux.AuthNService`` over a real port: the servicer's status codes and the client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import grpc
import pytest

from mainflux.authn.client import GrpcUserAuth
from mainflux.authn.grpc import GrpcServer, start_grpc_server
from mainflux.authn.main import build_service
from mainflux.authn.service import AuthnService
from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.runner import StartupError
from mainflux.proto import authn_pb2, authn_pb2_grpc
from tests.servers import free_port

EMAIL = "alice@example.com"


@pytest.fixture
async def service(sqlite_url: str) -> AsyncIterator[AuthnService]:
    engine = create_engine(sqlite_url)
    yield await build_service(engine, "secret")
    await engine.dispose()


@pytest.fixture
async def server(service: AuthnService) -> AsyncIterator[GrpcServer]:
    server = await start_grpc_server(service, "127.0.0.1", 0)
    yield server
    await server.stop(None)


@pytest.fixture
async def stub(server: GrpcServer) -> AsyncIterator[authn_pb2_grpc.AuthNServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield authn_pb2_grpc.AuthNServiceStub(channel)


@pytest.fixture
async def client(server: GrpcServer) -> AsyncIterator[GrpcUserAuth]:
    client = GrpcUserAuth(f"127.0.0.1:{server.port}", timeout=2.0)
    yield client
    await client.close()


async def test_issue_then_identify(stub: authn_pb2_grpc.AuthNServiceStub) -> None:
    token = await stub.Issue(authn_pb2.IssueReq(issuer=EMAIL, type=0))
    assert token.value.count(".") == 2
    user = await stub.Identify(authn_pb2.Token(value=token.value))
    assert user.value == EMAIL


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (authn_pb2.IssueReq(issuer="", type=0), grpc.StatusCode.UNAUTHENTICATED),
        (authn_pb2.IssueReq(issuer=EMAIL, type=3), grpc.StatusCode.INVALID_ARGUMENT),
        (authn_pb2.IssueReq(issuer=EMAIL, type=2), grpc.StatusCode.UNAUTHENTICATED),
    ],
    ids=["empty issuer", "unknown type", "api key without login token"],
)
async def test_issue_errors(
    stub: authn_pb2_grpc.AuthNServiceStub, request_: authn_pb2.IssueReq, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Issue(request_)
    assert caught.value.code() == code


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("garbage", grpc.StatusCode.UNAUTHENTICATED),
        ("a.b.c", grpc.StatusCode.UNAUTHENTICATED),
    ],
    ids=["empty", "garbage", "three parts"],
)
async def test_identify_errors(
    stub: authn_pb2_grpc.AuthNServiceStub, token: str, code: grpc.StatusCode
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Identify(authn_pb2.Token(value=token))
    assert caught.value.code() == code
    if token == "":
        assert caught.value.details() == "received invalid token request"


async def test_a_revoked_api_key_is_unauthenticated(
    stub: authn_pb2_grpc.AuthNServiceStub, service: AuthnService
) -> None:
    login = await service.issue(EMAIL, 0)
    key, token = await service.issue_api_key(login)
    assert (await stub.Identify(authn_pb2.Token(value=token))).value == EMAIL
    await service.revoke_key(login, key.id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Identify(authn_pb2.Token(value=token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_client_is_a_user_auth(client: GrpcUserAuth) -> None:
    token = await client.issue(EMAIL, 0)
    assert await client.identify(token) == EMAIL
    recovery = await client.issue(EMAIL, 1)
    assert await client.identify(recovery) == EMAIL


@pytest.mark.parametrize("token", ["", "garbage"], ids=["empty", "garbage"])
async def test_the_client_turns_refusals_into_unauthorized(
    client: GrpcUserAuth, token: str
) -> None:
    with pytest.raises(Unauthorized):
        await client.identify(token)
    with pytest.raises(Unauthorized):
        await client.issue("", 0)


async def test_the_client_reports_an_unreachable_authn_as_unavailable() -> None:
    client = GrpcUserAuth(f"127.0.0.1:{free_port()}", timeout=0.5)
    try:
        with pytest.raises(ServiceUnavailable):
            await client.identify("some-token")
        with pytest.raises(ServiceUnavailable):
            await client.issue(EMAIL, 0)
    finally:
        await client.close()


async def test_the_client_reports_a_silent_authn_as_unavailable() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = GrpcUserAuth(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        try:
            with pytest.raises(ServiceUnavailable):
                await client.identify("some-token")
        finally:
            await client.close()


async def test_a_busy_port_stops_start_up_naming_the_setting(service: AuthnService) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(StartupError, match="MF_AUTHN_GRPC_PORT"):
            await start_grpc_server(service, "127.0.0.1", busy.getsockname()[1])
