"""Contract fuzzing of the things service's internal auth HTTP API (not on the
all-in-one gateway, so ``tests/e2e/test_contract.py`` does not reach it): a real things
service on SQLite behind a real uvicorn server, driven by schemathesis."""

from __future__ import annotations

import asyncio

from mainflux.core.db import create_engine
from mainflux.core.errors import Unauthorized
from mainflux.things.authapi import create_auth_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service
from mainflux.things.models import Channel, Thing
from tests.contract import Credentials, fuzz
from tests.servers import serving

TOKEN = "owner-token"


class OneUser:
    """A user-auth port that knows one token."""

    async def identify(self, token: str) -> str:
        if token != TOKEN:
            raise Unauthorized()
        return "owner@example.com"

    async def issue(self, issuer: str, key_type: int) -> str:
        raise Unauthorized()


async def test_every_auth_operation_answers_as_documented(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    service = await build_service(engine, OneUser(), None, InMemoryAccessCache())
    (thing,) = await service.create_things(TOKEN, [Thing(name="t")])
    (channel,) = await service.create_channels(TOKEN, [Channel(name="c")])
    await service.connect(TOKEN, [channel.id], [thing.id])
    credentials = Credentials(TOKEN, thing.key, thing.id, channel.id)
    async with serving(create_auth_app(service)) as port:
        report = await asyncio.to_thread(
            fuzz, f"http://127.0.0.1:{port}", credentials, max_examples=10, random_seed=1
        )
    await engine.dispose()
    assert report.operations == 5  # identify, access-by-key, access-by-id, version, health
    assert report.server_errors == 0
    assert report.findings == [], "\n\n".join(f.detail for f in report.findings)
