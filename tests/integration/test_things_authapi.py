"""The things auth HTTP API (``/identify``, ``access-by-key``, ``access-by-id``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from mainflux.core.db import create_engine
from mainflux.things.authapi import create_auth_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service
from mainflux.things.models import Channel, Thing
from mainflux.things.singleuser import SingleUserAuth

JSON = {"Content-Type": "application/json"}


@dataclass
class World:
    client: httpx.AsyncClient
    thing: Thing
    channel: Channel
    lonely: Channel


@pytest.fixture
async def world(sqlite_url: str) -> AsyncIterator[World]:
    engine = create_engine(sqlite_url)
    service = await build_service(
        engine, SingleUserAuth("u@example.com", "t"), None, InMemoryAccessCache()
    )
    (thing,) = await service.create_things("t", [Thing(key="device-key")])
    channel, lonely = await service.create_channels("t", [Channel(), Channel()])
    await service.connect("t", [channel.id], [thing.id])
    transport = httpx.ASGITransport(app=create_auth_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
        yield World(client, thing, channel, lonely)
    await engine.dispose()


async def test_identify_answers_the_thing_id(world: World) -> None:
    response = await world.client.post("/identify", json={"token": "device-key"}, headers=JSON)
    assert response.status_code == 200
    assert response.json() == {"id": world.thing.id}


async def test_access_by_key_and_by_id(world: World) -> None:
    path = f"/channels/{world.channel.id}"
    response = await world.client.post(
        f"{path}/access-by-key", json={"token": "device-key"}, headers=JSON
    )
    assert (response.status_code, response.json()) == (200, {"id": world.thing.id})
    response = await world.client.post(
        f"{path}/access-by-id", json={"thing_id": world.thing.id}, headers=JSON
    )
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/identify", {"token": ""}),
        ("/identify", {"token": "wrong"}),
        ("/identify", {}),
        ("/channels/{chan}/access-by-key", {"token": ""}),
        ("/channels/{chan}/access-by-key", {"token": "wrong"}),
        ("/channels/{lonely}/access-by-key", {"token": "device-key"}),
        ("/channels/not-a-uuid/access-by-key", {"token": "device-key"}),
        ("/channels/{chan}/access-by-id", {"thing_id": ""}),
        ("/channels/{chan}/access-by-id", {"thing_id": str(uuid.uuid4())}),
        ("/channels/{lonely}/access-by-id", {"thing_id": "{thing}"}),
        ("/channels/{chan}/access-by-id", {"thing_id": "not-a-uuid"}),
    ],
)
async def test_empty_or_wrong_credentials_are_403(world: World, path: str, body: dict) -> None:
    names = {"chan": world.channel.id, "lonely": world.lonely.id, "thing": world.thing.id}
    body = {k: v.format(**names) for k, v in body.items()}
    response = await world.client.post(path.format(**names), json=body, headers=JSON)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "path", ["/identify", "/channels/{chan}/access-by-key", "/channels/{chan}/access-by-id"]
)
async def test_bad_bodies_are_415_or_400(world: World, path: str) -> None:
    path = path.format(chan=world.channel.id)
    response = await world.client.post(path, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    for body in (b"{broken", b"[1]", b'{"token": 5, "thing_id": 5}'):
        response = await world.client.post(path, content=body, headers=JSON)
        assert response.status_code == 400, body


async def test_version_but_no_metrics(world: World) -> None:
    assert (await world.client.get("/version")).json()["service"] == "things"
    assert (await world.client.get("/metrics")).status_code == 404
