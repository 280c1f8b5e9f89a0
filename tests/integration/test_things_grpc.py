"""The things gRPC face over a real port, and the clients other services use."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2

from mainflux.core.db import create_engine
from mainflux.core.errors import NotFound, ServiceUnavailable, Unauthorized
from mainflux.core.runner import StartupError
from mainflux.proto import authn_pb2, authn_pb2_grpc
from mainflux.things.api import create_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.client import GrpcThingAccess, HttpChannelOwner
from mainflux.things.grpc import start_grpc_server
from mainflux.things.main import build_service
from mainflux.things.models import Channel, Thing
from mainflux.things.service import Service
from mainflux.things.singleuser import SingleUserAuth
from tests.servers import free_port

TOKEN = "user-token"


@dataclass
class World:
    service: Service
    url: str
    thing: Thing
    channel: Channel
    lonely: Channel


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[World]:
    engine = create_engine(sqlite_url)
    auth = SingleUserAuth("u@example.com", TOKEN)
    service = await build_service(engine, auth, None, InMemoryAccessCache())
    (thing,) = await service.create_things(TOKEN, [Thing(key="device-key")])
    channel, lonely = await service.create_channels(TOKEN, [Channel(), Channel()])
    await service.connect(TOKEN, [channel.id], [thing.id])
    server, port = await start_grpc_server(service, 0, "127.0.0.1")
    yield World(service, f"127.0.0.1:{port}", thing, channel, lonely)
    await server.stop(None)
    await engine.dispose()


@pytest.fixture
async def stub(world: World) -> AsyncIterator[authn_pb2_grpc.ThingsServiceStub]:
    async with grpc.aio.insecure_channel(world.url) as channel:
        yield authn_pb2_grpc.ThingsServiceStub(channel)


async def test_the_three_rpcs_answer(world: World, stub: authn_pb2_grpc.ThingsServiceStub) -> None:
    reply = await stub.CanAccessByKey(
        authn_pb2.AccessByKeyReq(token="device-key", chanID=world.channel.id)
    )
    assert reply.value == world.thing.id
    reply = await stub.CanAccessByID(
        authn_pb2.AccessByIDReq(thingID=world.thing.id, chanID=world.channel.id)
    )
    assert reply == empty_pb2.Empty()
    assert (await stub.Identify(authn_pb2.Token(value="device-key"))).value == world.thing.id


async def _code(call) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value.code(), info.value.details()


async def test_errors_use_mainflux_codes(
    world: World, stub: authn_pb2_grpc.ThingsServiceStub
) -> None:
    invalid = (grpc.StatusCode.INVALID_ARGUMENT, "received invalid can access request")
    denied = (grpc.StatusCode.PERMISSION_DENIED, "missing or invalid credentials provided")
    chan, lonely, thing = world.channel.id, world.lonely.id, world.thing.id
    by_key, by_id = stub.CanAccessByKey, stub.CanAccessByID
    assert await _code(by_key(authn_pb2.AccessByKeyReq(token="", chanID=chan))) == invalid
    assert await _code(by_key(authn_pb2.AccessByKeyReq(token="device-key"))) == invalid
    assert await _code(by_key(authn_pb2.AccessByKeyReq(token="x", chanID=chan))) == denied
    assert (
        await _code(by_key(authn_pb2.AccessByKeyReq(token="device-key", chanID=lonely))) == denied
    )
    assert await _code(by_key(authn_pb2.AccessByKeyReq(token="device-key", chanID="bad"))) == denied
    assert await _code(by_id(authn_pb2.AccessByIDReq(thingID="", chanID=chan))) == invalid
    assert await _code(by_id(authn_pb2.AccessByIDReq(thingID=thing, chanID=lonely))) == denied
    assert await _code(stub.Identify(authn_pb2.Token(value=""))) == invalid
    assert await _code(stub.Identify(authn_pb2.Token(value="nope"))) == denied


async def test_the_grpc_client_maps_errors(world: World) -> None:
    access = GrpcThingAccess(world.url, timeout=2)
    assert await access.can_access_by_key(world.channel.id, "device-key") == world.thing.id
    await access.can_access_by_id(world.channel.id, world.thing.id)
    assert await access.identify("device-key") == world.thing.id
    for call in (
        access.can_access_by_key(world.channel.id, ""),
        access.can_access_by_key(world.lonely.id, "device-key"),
        access.can_access_by_id(world.lonely.id, world.thing.id),
        access.identify("wrong"),
    ):
        with pytest.raises(Unauthorized):
            await call
    await access.close()


async def test_an_unreachable_things_service_is_unavailable() -> None:
    access = GrpcThingAccess(f"127.0.0.1:{free_port()}", timeout=0.5)
    with pytest.raises(ServiceUnavailable):
        await access.identify("key")
    await access.close()


async def test_a_busy_port_names_the_setting(world: World) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StartupError, match="MF_THINGS_AUTH_GRPC_PORT"):
            await start_grpc_server(world.service, port, "127.0.0.1")


async def test_the_http_channel_owner_client(world: World) -> None:
    transport = httpx.ASGITransport(app=create_app(world.service))
    owner = HttpChannelOwner("http://things", transport=transport)
    await owner.authorize_owner(TOKEN, world.channel.id)
    with pytest.raises(Unauthorized):
        await owner.authorize_owner("wrong", world.channel.id)
    with pytest.raises(Unauthorized):
        await owner.authorize_owner("", world.channel.id)
    with pytest.raises(NotFound):
        await owner.authorize_owner(TOKEN, str(uuid.uuid4()))
    with pytest.raises(NotFound):
        await owner.authorize_owner(TOKEN, "../things")
    await owner.close()
    unreachable = HttpChannelOwner(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ServiceUnavailable):
        await unreachable.authorize_owner(TOKEN, world.channel.id)
    await unreachable.close()
