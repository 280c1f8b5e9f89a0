"""``mainflux run`` end to end: the owner's changes close the WebSockets they revoke.

The management API is driven with httpx, the subscribers are websockets clients on the
gateway's ``/ws`` path; the change travels through the embedded event log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import Platform


@dataclass
class Device:
    thing: str
    key: str
    channel: str


class Owner:
    """A user of the platform, provisioning through the gateway's management API."""

    def __init__(self, api: httpx.AsyncClient, platform: Platform) -> None:
        self.api = api
        self.platform = platform

    async def login(self) -> None:
        creds = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "12345678"}
        assert (await self.api.post("/users", json=creds)).status_code == 201
        token = (await self.api.post("/tokens", json=creds)).json()["token"]
        self.api.headers["Authorization"] = token

    async def device(self) -> Device:
        created = await self.api.post("/things", json={"name": "sensor"})
        assert created.status_code == 201, created.text
        thing = created.headers["location"].rsplit("/", 1)[1]
        key = (await self.api.get(f"/things/{thing}")).json()["key"]
        created = await self.api.post("/channels", json={"name": "room"})
        channel = created.headers["location"].rsplit("/", 1)[1]
        connect_one = await self.api.put(f"/channels/{channel}/things/{thing}")
        assert connect_one.status_code == 200
        return Device(thing, key, channel)

    def url(self, device: Device) -> str:
        return (
            f"ws://127.0.0.1:{self.platform.gateway_port}/ws/channels/{device.channel}"
            f"/messages?authorization={device.key}"
        )


@pytest.fixture
async def owner(platform: Platform) -> AsyncIterator[Owner]:
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as api:
        user = Owner(api, platform)
        await user.login()
        yield user


async def closed_with_1008(ws: ClientConnection) -> None:
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1008, (ws.close_code, ws.close_reason)


async def alive(ws: ClientConnection) -> None:
    await ws.send("still here")
    assert await asyncio.wait_for(ws.recv(), 10) == "still here"


async def test_the_owner_s_changes_close_the_sockets_they_revoke(owner: Owner) -> None:
    disconnected, removed, rekeyed, dropped_channel, renamed = [
        await owner.device() for _ in range(5)
    ]
    async with (
        connect(owner.url(disconnected)) as ws_disconnected,
        connect(owner.url(removed)) as ws_removed,
        connect(owner.url(rekeyed)) as ws_rekeyed,
        connect(owner.url(dropped_channel)) as ws_dropped_channel,
        connect(owner.url(renamed)) as ws_renamed,
    ):
        await alive(ws_disconnected)
        # a name update also appears as thing.update: the key is checked again and holds
        rename = await owner.api.put(f"/things/{renamed.thing}", json={"name": "renamed"})
        assert rename.status_code == 200

        path = f"/channels/{disconnected.channel}/things/{disconnected.thing}"
        assert (await owner.api.delete(path)).status_code == 204
        await closed_with_1008(ws_disconnected)

        assert (await owner.api.delete(f"/things/{removed.thing}")).status_code == 204
        await closed_with_1008(ws_removed)

        rotated = {"key": f"rotated-{uuid.uuid4()}"}
        assert (
            await owner.api.patch(f"/things/{rekeyed.thing}/key", json=rotated)
        ).status_code == 200
        await closed_with_1008(ws_rekeyed)

        assert (await owner.api.delete(f"/channels/{dropped_channel.channel}")).status_code == 204
        await closed_with_1008(ws_dropped_channel)

        await alive(ws_renamed)

    async with connect(owner.url(renamed)) as again:
        await alive(again)
    for device in (disconnected, removed, rekeyed, dropped_channel):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(owner.url(device)):
                pass
        assert refused.value.response.status_code == 403
