"""The readers API over HTTP: filters, authorization by thing key or owner token, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import create_engine, migrate
from mainflux.messaging.envelope import Message
from mainflux.readers.api import create_app
from mainflux.readers.models import Page, PageQuery
from mainflux.readers.sql import SQLReader
from mainflux.transformers import senml
from mainflux.writers.rows import record_ids
from mainflux.writers.store import open_store
from tests.fakes import FakeThings

CHANNEL = "b3c4d5e6-0000-4000-8000-000000000001"
OTHER = "b3c4d5e6-0000-4000-8000-000000000002"
KEY = "thing-key"
TOKEN = "owner-token"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate(engine, "consumers")
    repo = open_store(engine)
    batch = []
    for i in range(30):
        msg = Message(
            CHANNEL,
            "a.b" if i < 10 else "",
            "thing-id",
            "http",
            f'[{{"n":"temp","v":{i},"t":{100 + i}}}]'.encode(),
            i,
        )
        records = senml.transform_json(msg)
        batch.extend(zip(record_ids(msg, 1), records, strict=True))
    await repo.save(batch)
    yield engine
    await engine.dispose()


@pytest.fixture
def things() -> FakeThings:
    """A things service: the key KEY is connected to CHANNEL, which TOKEN's user owns."""
    things = FakeThings()
    things.add("thing-id", KEY, CHANNEL)
    things.own(TOKEN, CHANNEL)
    return things


@pytest.fixture
async def client(engine: AsyncEngine, things: FakeThings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SQLReader(engine), things, things)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reader") as c:
        yield c


async def get(
    client: httpx.AsyncClient, query: str = "", auth: str = KEY, channel: str = CHANNEL
) -> httpx.Response:
    headers = {"Authorization": auth} if auth else {}
    return await client.get(f"/channels/{channel}/messages{query}", headers=headers)


async def test_a_thing_key_reads_newest_first(client: httpx.AsyncClient) -> None:
    response = await get(client, "?limit=5")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["offset"], body["limit"]) == (30, 0, 5)
    assert [m["value"] for m in body["messages"]] == [29.0, 28.0, 27.0, 26.0, 25.0]
    assert set(body["messages"][0]) == {"channel", "publisher", "protocol", "name", "value", "time"}


async def test_the_owner_token_reads_too(client: httpx.AsyncClient) -> None:
    response = await get(client, "?limit=1", auth=TOKEN)
    assert response.status_code == 200
    assert response.json()["total"] == 30


@pytest.mark.parametrize("subtopic", ["a.b", "a/b", "/a//b/"], ids=["dots", "slashes", "messy"])
async def test_subtopic_accepts_slashes_and_dots(client: httpx.AsyncClient, subtopic: str) -> None:
    response = await get(client, f"?limit=5&subtopic={subtopic}")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 10
    assert all(m["subtopic"] == "a.b" for m in body["messages"])


async def test_value_comparator_and_time_range_narrow_the_total(client: httpx.AsyncClient) -> None:
    response = await get(
        client, "?v=20&comparator=ge&from=105&to=125&name=temp&publisher=thing-id&protocol=http"
    )
    assert response.status_code == 200
    assert response.json()["total"] == 5
    assert [m["value"] for m in response.json()["messages"]] == [24.0, 23.0, 22.0, 21.0, 20.0]


async def test_offset_past_the_end_is_an_empty_page(client: httpx.AsyncClient) -> None:
    response = await get(client, "?offset=100")
    assert response.status_code == 200
    assert response.json() == {"total": 30, "offset": 100, "limit": 10, "messages": []}


BAD_QUERIES = [
    ("limit 0", "?limit=0"),
    ("limit over 1000", "?limit=1001"),
    ("negative limit", "?limit=-1"),
    ("limit not a number", "?limit=ten"),
    ("offset not a number", "?offset=x"),
    ("negative offset", "?offset=-5"),
    ("repeated limit", "?limit=1&limit=2"),
    ("unknown comparator", "?v=1&comparator=ne"),
    ("v not a number", "?v=abc"),
    ("v infinite", "?v=inf"),
    ("vb not a boolean", "?vb=maybe"),
    ("from not a number", "?from=yesterday"),
    ("to not a number", "?to=1e"),
    ("to is NaN", "?to=nan"),
    ("from after to", "?from=10&to=5"),
    ("superscript limit", "?limit=%C2%B2"),
    ("arabic-indic offset", "?offset=%D9%A3"),
    ("5000-digit offset", "?offset=" + "9" * 5000),
    ("offset past int64", "?offset=9223372036854775808"),
    ("arabic-indic v", "?v=%D9%A3"),
    ("5000-digit from", "?from=" + "1" * 5000),
]


@pytest.mark.parametrize("query", [q[1] for q in BAD_QUERIES], ids=[q[0] for q in BAD_QUERIES])
async def test_bad_query_values_are_400_with_a_message(
    client: httpx.AsyncClient, query: str
) -> None:
    response = await get(client, query)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("auth", "channel"),
    [("", CHANNEL), ("wrong", CHANNEL), (KEY, OTHER), (TOKEN, OTHER)],
    ids=["no key", "wrong key", "key not connected", "token of another owner's channel"],
)
async def test_wrong_credentials_are_403(
    client: httpx.AsyncClient, auth: str, channel: str
) -> None:
    response = await get(client, "", auth=auth, channel=channel)
    assert response.status_code == 403
    assert response.json()["error"]


async def test_things_service_down_is_503(client: httpx.AsyncClient, things: FakeThings) -> None:
    things.down = True
    assert (await get(client)).status_code == 503
    things.down = False
    assert (await get(client)).status_code == 200


async def test_version_names_the_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/version")
    assert response.json()["service"] == "postgres-reader"


async def test_database_down_is_503_and_recovers(postgres_url: str, things: FakeThings) -> None:
    engine = create_engine(postgres_url)
    await migrate(engine, "consumers")
    app = create_app(SQLReader(engine), things, things)
    name = postgres_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        postgres_url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres"
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        assert (await get(c)).status_code == 200
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        down = await get(c)
        assert down.status_code == 503
        assert down.json()["error"]
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert (await get(c)).status_code == 200
    await admin.close()
    await engine.dispose()


class CountingReads:
    """A message store that only counts how often it is asked."""

    def __init__(self) -> None:
        self.reads = 0

    async def read(self, channel: str, query: PageQuery) -> Page:
        self.reads += 1
        return Page(total=0, offset=query.offset, limit=query.limit)


@pytest.fixture
def reads() -> CountingReads:
    return CountingReads()


@pytest.fixture
async def counted(reads: CountingReads, things: FakeThings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(reads, things, things))
    async with httpx.AsyncClient(transport=transport, base_url="http://reader") as c:
        yield c


@pytest.mark.parametrize("query", [q[1] for q in BAD_QUERIES], ids=[q[0] for q in BAD_QUERIES])
async def test_a_bad_query_never_reaches_the_store(
    counted: httpx.AsyncClient, reads: CountingReads, query: str
) -> None:
    assert (await get(counted, query)).status_code == 400
    assert reads.reads == 0
    assert (await get(counted)).status_code == 200, "the next good request is served"
    assert reads.reads == 1


@pytest.mark.parametrize("auth", ["", "wrong"], ids=["no key", "wrong key"])
@pytest.mark.parametrize(
    "query",
    ["?limit=%C2%B2", "?offset=" + "9" * 5000, "?v=abc"],
    ids=["superscript limit", "5000-digit offset", "v not a number"],
)
async def test_the_caller_is_checked_before_the_query(
    counted: httpx.AsyncClient, reads: CountingReads, auth: str, query: str
) -> None:
    response = await get(counted, query, auth=auth)
    assert response.status_code == 403
    assert reads.reads == 0


async def test_without_an_owner_check_only_thing_keys_read(
    reads: CountingReads, things: FakeThings
) -> None:
    transport = httpx.ASGITransport(app=create_app(reads, things, None))
    async with httpx.AsyncClient(transport=transport, base_url="http://reader") as c:
        assert (await get(c, auth=KEY)).status_code == 200
        assert (await get(c, auth=TOKEN)).status_code == 403
        assert (await get(c, auth="wrong")).status_code == 403
        things.down = True
        assert (await get(c, auth=KEY)).status_code == 503
