"""A bootstrap service over a real things service, for the bootstrap tests.

Both share one database (SQLite or PostgreSQL) and the embedded event log; bootstrap
calls the things HTTP API over a real socket (as ``mainflux-bootstrap`` does)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from mainflux.bootstrap.api import create_app
from mainflux.bootstrap.main import build_service as build_bootstrap
from mainflux.bootstrap.service import Service
from mainflux.bootstrap.store import SqlConfigRepository
from mainflux.bootstrap.things import HttpThingsClient
from mainflux.core.db import create_engine
from mainflux.core.errors import Unauthorized
from mainflux.events.sql import SqlEventStream
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service as build_things
from tests.servers import serving

ALICE, BOB = "alice-token", "bob-token"
KEY = bytes.fromhex("12345678910111213141516171819202")


class TwoUsers:
    """A user-auth port that knows two tokens."""

    async def identify(self, token: str) -> str:
        users = {ALICE: "alice@example.com", BOB: "bob@example.com"}
        if token not in users:
            raise Unauthorized()
        return users[token]

    async def issue(self, issuer: str, key_type: int) -> str:
        raise Unauthorized()


@dataclass
class Platform:
    """HTTP clients of things and bootstrap, the event log and the repository."""

    things: httpx.AsyncClient
    bootstrap: httpx.AsyncClient
    events: SqlEventStream
    repo: SqlConfigRepository
    service: Service
    things_url: str = ""
    bootstrap_url: str = ""


@asynccontextmanager
async def platform(
    db_url: str, *, things_url: str | None = None, serve_bootstrap: bool = False
) -> AsyncIterator[Platform]:
    """Things served on a free port and bootstrap calling it; ``things_url`` points
    bootstrap elsewhere (e.g. at nothing, to see 503). With ``serve_bootstrap``,
    bootstrap listens on a port too (``bootstrap_url``)."""
    engine = create_engine(db_url)
    events = SqlEventStream(engine)
    await events.create_schema()
    things = await build_things(engine, TwoUsers(), events, InMemoryAccessCache())
    async with serving(create_things_app(things)) as port:
        client = HttpThingsClient(things_url or f"http://127.0.0.1:{port}", timeout=2)
        service, repo = await build_bootstrap(engine, TwoUsers(), client, events, KEY)
        app = create_app(service, KEY)
        bs = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as things_http,
            httpx.AsyncClient(transport=bs, base_url="http://bootstrap") as bootstrap_http,
        ):
            running = Platform(
                things_http, bootstrap_http, events, repo, service, f"http://127.0.0.1:{port}"
            )
            if serve_bootstrap:
                async with serving(app) as bs_port:
                    running.bootstrap_url = f"http://127.0.0.1:{bs_port}/things"
                    yield running
            else:
                yield running
        await client.close()
    await engine.dispose()
