"""``mainflux.AuthNService`` and ``mainflux.AuthNAccountsService`` over a real port (on
SQLite; PostgreSQL too for revocation): the servicers' status codes and the client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from mainflux.authn.client import GrpcUserAuth
from mainflux.authn.grpc import GrpcServer, start_grpc_server
from mainflux.authn.main import build_service
from mainflux.authn.service import AuthnService
from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.core.runner import StartupError
from mainflux.proto import authn_accounts_pb2_grpc, authn_pb2, authn_pb2_grpc
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service as build_things
from tests.integration.test_authn_api import ON_BOTH, database_fixture  # noqa: F401
from tests.servers import free_port

EMAIL = "alice@example.com"


@pytest.fixture
async def service(database: str) -> AsyncIterator[AuthnService]:
    engine = create_engine(database)
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
async def accounts(
    server: GrpcServer,
) -> AsyncIterator[authn_accounts_pb2_grpc.AuthNAccountsServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield authn_accounts_pb2_grpc.AuthNAccountsServiceStub(channel)


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
    assert await client.identify_recovery(recovery) == EMAIL


@ON_BOTH
async def test_identify_refuses_a_recovery_token(
    stub: authn_pb2_grpc.AuthNServiceStub, client: GrpcUserAuth
) -> None:
    recovery = await stub.Issue(authn_pb2.IssueReq(issuer=EMAIL, type=1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Identify(recovery)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(Unauthorized):
        await client.identify(recovery.value)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("empty", grpc.StatusCode.INVALID_ARGUMENT),
        ("garbage", grpc.StatusCode.UNAUTHENTICATED),
        ("login", grpc.StatusCode.UNAUTHENTICATED),
        ("api key", grpc.StatusCode.UNAUTHENTICATED),
    ],
    ids=["empty", "garbage", "login", "api key"],
)
async def test_identify_recovery_refuses_every_other_token(
    accounts: authn_accounts_pb2_grpc.AuthNAccountsServiceStub,
    client: GrpcUserAuth,
    service: AuthnService,
    kind: str,
    code: grpc.StatusCode,
) -> None:
    login = await service.issue(EMAIL, 0)
    token = {
        "empty": "",
        "garbage": "garbage",
        "login": login,
        "api key": (await service.issue_api_key(login))[1],
    }[kind]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.IdentifyRecovery(authn_pb2.Token(value=token))
    assert caught.value.code() == code
    with pytest.raises(Unauthorized):
        await client.identify_recovery(token)


@ON_BOTH
async def test_revoke_all_keys_voids_earlier_tokens_on_both_services(
    stub: authn_pb2_grpc.AuthNServiceStub,
    accounts: authn_accounts_pb2_grpc.AuthNAccountsServiceStub,
    client: GrpcUserAuth,
    service: AuthnService,
) -> None:
    login = await service.issue(EMAIL, 0)
    recovery = await service.issue(EMAIL, 1)
    _, api_token = await service.issue_api_key(login)
    bob = await service.issue("bob@example.com", 0)
    await client.revoke_all_keys(EMAIL)
    fresh = await stub.Issue(authn_pb2.IssueReq(issuer=EMAIL, type=0))
    for token in (login, api_token):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Identify(authn_pb2.Token(value=token))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.IdentifyRecovery(authn_pb2.Token(value=recovery))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (await stub.Identify(fresh)).value == EMAIL
    assert (await stub.Identify(authn_pb2.Token(value=bob))).value == "bob@example.com"


async def test_revoke_all_keys_needs_an_email(
    accounts: authn_accounts_pb2_grpc.AuthNAccountsServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await accounts.RevokeAllKeys(authn_pb2.UserID(value=""))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


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


class GoLikeAuthn(authn_pb2_grpc.AuthNServiceServicer):
    """Answers ``Identify`` as Go Mainflux 0.11's authn does.

    ``good-token`` identifies; any other token gets the status its text names, as Go
    answers ``INTERNAL`` for a revoked API key (its row is not found)."""

    async def Identify(
        self, request: authn_pb2.Token, context: grpc.aio.ServicerContext
    ) -> authn_pb2.UserID:
        if request.value == "good-token":
            return authn_pb2.UserID(value=EMAIL)
        await context.abort(grpc.StatusCode[request.value], "internal server error")
        raise AssertionError("unreachable")


@pytest.fixture
async def go_things(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The things API asking a Go-like authn over gRPC."""
    server = grpc.aio.server()
    authn_pb2_grpc.add_AuthNServiceServicer_to_server(GoLikeAuthn(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    auth = GrpcUserAuth(f"127.0.0.1:{port}", timeout=2.0)
    engine = create_engine(sqlite_url)
    things = await build_things(engine, auth, None, InMemoryAccessCache())
    transport = httpx.ASGITransport(create_things_app(things))
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as client:
        yield client
    await auth.close()
    await engine.dispose()
    await server.stop(None)


@pytest.mark.parametrize("code", ["INTERNAL", "UNKNOWN", "NOT_FOUND", "PERMISSION_DENIED"])
async def test_things_refuses_a_token_authn_answers_internal_or_unknown_for(
    go_things: httpx.AsyncClient, code: str
) -> None:
    assert (
        await go_things.get("/things", headers={"Authorization": "good-token"})
    ).status_code == 200
    response = await go_things.get("/things", headers={"Authorization": code})
    assert response.status_code == 403


@pytest.mark.parametrize("code", ["UNAVAILABLE", "DEADLINE_EXCEEDED", "UNIMPLEMENTED"])
async def test_things_answers_503_when_authn_cannot_answer(
    go_things: httpx.AsyncClient, code: str
) -> None:
    response = await go_things.get("/things", headers={"Authorization": code})
    assert response.status_code == 503
