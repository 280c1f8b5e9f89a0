"""Databases that Go Mainflux 0.11 made: adopted by ``migrate``, their rows kept working.

Each Go database is built from the SQL in ``tests/go_schema`` (the tables as Go's
migrations leave them, with their ``gorp_migrations`` rows), filled the way Go's
services write, then migrated and used through our services and repositories."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import bcrypt
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.main import build_service as build_authn
from mainflux.core.db import SchemaError, create_engine, migrate, migration_lock_id
from mainflux.core.errors import Conflict, Unauthorized
from mainflux.messaging.envelope import Message
from mainflux.readers.models import PageQuery
from mainflux.readers.sql import SQLReader
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service as build_things
from mainflux.things.models import Thing
from mainflux.things.singleuser import SingleUserAuth
from mainflux.transformers import senml
from mainflux.users.api import create_app as create_users_app
from mainflux.users.email import OutboxEmailer
from mainflux.users.main import build_service as build_users
from mainflux.writers.postgres import PostgresStore
from mainflux.writers.rows import record_ids
from tests import servers
from tests.integration.test_authn_main import clean_env
from tests.integration.test_users_main import COMMAND as USERS_COMMAND
from tests.unit.test_authn_service import go_token

FIXTURES = Path(__file__).parent.parent / "go_schema"
SECRET = "go-and-python-share-this"
ALICE, BOB = "alice@example.com", "bob@example.com"
JSON = {"Content-Type": "application/json"}


def dsn(url: str) -> str:
    """The plain ``postgresql://`` address of a test database, for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def run_sql(url: str, *scripts: str) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        for script in scripts:
            await conn.execute(script)
    finally:
        await conn.close()


def fixture(name: str) -> str:
    return (FIXTURES / f"{name}.sql").read_text()


async def make_go_database(url: str, *names: str) -> None:
    """Create the tables and migration records Go Mainflux 0.11 leaves for ``names``."""
    await run_sql(url, fixture("gorp"), *(fixture(name) for name in names))


async def schema_of(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every column, index, constraint and Alembic version of the database, except
    Go's own ``gorp_migrations``."""
    conn = await asyncpg.connect(dsn(url))
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, character_maximum_length,"
            " is_nullable, column_default FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name <> 'gorp_migrations' ORDER BY 1, 2"
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = 'public' AND tablename <> 'gorp_migrations' ORDER BY 1, 2"
        )
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            " AND conrelid::regclass::text <> 'gorp_migrations' ORDER BY 1, 2"
        )
        versions = []
        for (table,) in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename LIKE 'alembic_version_%' ORDER BY 1"
        ):
            rows = await conn.fetch(f'SELECT version_num FROM "{table}"')
            versions.append((table, *sorted(r[0] for r in rows)))
    finally:
        await conn.close()
    return {
        "columns": [tuple(r) for r in columns],
        "indexes": [tuple(r) for r in indexes],
        "constraints": [tuple(r) for r in constraints],
        "versions": versions,
    }


async def go_records(url: str) -> list[str]:
    conn = await asyncpg.connect(dsn(url))
    try:
        return [r[0] for r in await conn.fetch("SELECT id FROM gorp_migrations ORDER BY id")]
    finally:
        await conn.close()


async def migrated(url: str, service: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine, service)
    finally:
        await engine.dispose()


@pytest.fixture
def pg() -> Iterator[str]:
    with servers.postgres_database() as url:
        yield url


@pytest.fixture
def other_pg() -> Iterator[str]:
    with servers.postgres_database() as url:
        yield url


READER_FIRST = (
    "ALTER TABLE messages ALTER COLUMN data_value TYPE text USING encode(data_value, 'escape')"
)

ADOPTIONS = [
    ("users", "users", ()),
    ("authn", "authn", ()),
    ("things", "things", ()),
    ("consumers", "messages", ()),
    ("consumers", "messages", (READER_FIRST,)),
]
ADOPTION_IDS = ["users", "authn", "things", "messages by the writer", "messages by the reader"]


@pytest.mark.parametrize(("service", "go_name", "variant"), ADOPTIONS, ids=ADOPTION_IDS)
async def test_a_go_schema_is_adopted_into_exactly_ours_and_a_second_migrate_changes_nothing(
    pg: str, other_pg: str, service: str, go_name: str, variant: tuple[str, ...]
) -> None:
    await make_go_database(pg, go_name)
    await run_sql(pg, *variant)
    go_ids = await go_records(pg)

    await migrated(pg, service)
    adopted = await schema_of(pg)
    await migrated(other_pg, service)
    assert adopted == await schema_of(other_pg), "adopted schema differs from a fresh one"

    await migrated(pg, service)
    assert await schema_of(pg) == adopted
    assert await go_records(pg) == go_ids, "Go's record is left as it was"


async def test_go_databases_merged_into_one_are_adopted_service_by_service(
    pg: str, other_pg: str
) -> None:
    await make_go_database(pg, "users", "authn", "things", "messages")
    for service in ALL_SERVICES:
        await migrated(pg, service)
        await migrated(other_pg, service)
    assert await schema_of(pg) == await schema_of(other_pg)


async def test_a_migration_waits_while_another_process_migrates_the_service(pg: str) -> None:
    """The writer and the reader starting together on Go's ``messages``: one adopts it,
    the other waits and then finds the record (without the lock, one of them fails)."""
    await make_go_database(pg, "messages")
    holder = await asyncpg.connect(dsn(pg))
    watcher = await asyncpg.connect(dsn(pg))
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1)", migration_lock_id("consumers"))
        waiting = asyncio.create_task(migrated(pg, "consumers"))
        async with asyncio.timeout(10):
            while not await watcher.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ):
                await asyncio.wait({waiting}, timeout=0.05)
        assert not waiting.done()
        await transaction.commit()
        await asyncio.wait_for(waiting, 10)
    finally:
        await holder.close()
        await watcher.close()
    assert ("alembic_version_consumers", "0002") in (await schema_of(pg))["versions"]


# users ---------------------------------------------------------------------------------


def go_bcrypt(password: str) -> str:
    """A hash as Go's bcrypt.GenerateFromPassword(password, 10) makes it."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(10, prefix=b"2a")).decode()


@pytest.fixture
async def go_users(pg: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    await make_go_database(pg, "users")
    conn = await asyncpg.connect(dsn(pg))
    try:
        await conn.execute(
            "INSERT INTO users (email, password, metadata) VALUES ($1, $2, $3::jsonb),"
            " ($4, $5, NULL)",
            ALICE,
            go_bcrypt("alice-old-password"),
            '{"role": "admin", "tags": ["a", "b"]}',
            BOB,
            go_bcrypt("bob-old-password"),
        )
    finally:
        await conn.close()
    authn_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'authn.db'}")
    engine = create_engine(pg)
    authn = await build_authn(authn_engine, SECRET)
    service = await build_users(engine, authn, OutboxEmailer(tmp_path / "mail"))
    transport = httpx.ASGITransport(create_users_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://users") as client:
        yield client
    await engine.dispose()
    await authn_engine.dispose()


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/tokens", json={"email": email, "password": password})


async def test_go_users_log_in_with_their_old_passwords(go_users: httpx.AsyncClient) -> None:
    response = await login(go_users, ALICE, "alice-old-password")
    assert response.status_code == 201, response.text
    me = await go_users.get("/users", headers={"Authorization": response.json()["token"]})
    assert me.json() == {"email": ALICE, "metadata": {"role": "admin", "tags": ["a", "b"]}}

    bob = await login(go_users, BOB, "bob-old-password")
    assert bob.status_code == 201
    bob_me = await go_users.get("/users", headers={"Authorization": bob.json()["token"]})
    assert bob_me.json() == {"email": BOB}
    assert (await login(go_users, BOB, "not-bobs-password")).status_code == 403


async def test_go_users_change_passwords_and_new_users_register(
    go_users: httpx.AsyncClient,
) -> None:
    token = (await login(go_users, BOB, "bob-old-password")).json()["token"]
    changed = await go_users.patch(
        "/password",
        json={"password": "bob-new-password", "old_password": "bob-old-password"},
        headers={"Authorization": token, **JSON},
    )
    assert changed.status_code == 201
    assert (await login(go_users, BOB, "bob-old-password")).status_code == 403
    assert (await login(go_users, BOB, "bob-new-password")).status_code == 201

    carol = {"email": "carol@example.com", "password": "carol-password"}
    assert (await go_users.post("/users", json=carol)).status_code == 201
    assert (await go_users.post("/users", json={**carol, "email": ALICE})).status_code == 409
    assert (await login(go_users, "carol@example.com", "carol-password")).status_code == 201


# authn ---------------------------------------------------------------------------------


async def test_api_keys_go_issued_keep_working(pg: str) -> None:
    await make_go_database(pg, "authn")
    now = datetime.now(UTC).replace(microsecond=0)
    lasting, expired = str(uuid.uuid4()), str(uuid.uuid4())
    conn = await asyncpg.connect(dsn(pg))
    try:
        for key_id, issued, expires in (
            (lasting, now - timedelta(days=30), None),
            (expired, now - timedelta(days=2), now - timedelta(days=1)),
        ):
            await conn.execute(
                "INSERT INTO keys (id, type, issuer, issued_at, expires_at)"
                " VALUES ($1, 2, $2, $3, $4)",
                uuid.UUID(key_id),
                ALICE,
                issued.replace(tzinfo=None),
                None if expires is None else expires.replace(tzinfo=None),
            )
    finally:
        await conn.close()

    def api_token(key_id: str, issued: datetime, expires: datetime | None) -> str:
        claims: dict[str, Any] = {
            "iss": ALICE,
            "iat": int(issued.timestamp()),
            "jti": key_id,
            "type": 2,
        }
        if expires is not None:
            claims["exp"] = int(expires.timestamp())
        return go_token(claims, SECRET)

    engine = create_engine(pg)
    try:
        authn = await build_authn(engine, SECRET)
        go_key = api_token(lasting, now - timedelta(days=30), None)
        assert await authn.identify(go_key) == ALICE
        with pytest.raises(Unauthorized):
            await authn.identify(api_token(expired, now - timedelta(days=2), now - timedelta(1)))

        login_token = await authn.issue(ALICE, 0)
        view = await authn.retrieve_key(login_token, lasting)
        assert (view.id, view.type, view.issuer, view.expires_at) == (lasting, 2, ALICE, None)
        assert view.issued_at == now - timedelta(days=30)

        new_key, new_token = await authn.issue_api_key(login_token, 3600)
        assert await authn.identify(new_token) == ALICE
        await authn.revoke_key(login_token, lasting)
        with pytest.raises(Unauthorized):
            await authn.identify(go_key)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(dsn(pg))
    try:
        left = [str(r[0]) for r in await conn.fetch("SELECT id FROM keys")]
    finally:
        await conn.close()
    assert left == [new_key.id], "the expired and the revoked Go keys are gone"


# things --------------------------------------------------------------------------------

T1, T2, T3 = (str(uuid.uuid4()) for _ in range(3))
C1, C2 = (str(uuid.uuid4()) for _ in range(2))
K1, K2, K3 = (str(uuid.uuid4()) for _ in range(3))
TOKEN = "alice-token"


async def fill_go_things(url: str) -> None:
    """Rows as Go's things service writes them: an unnamed thing has name '' and
    metadata '{}', a channel without metadata has NULL."""
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.executemany(
            "INSERT INTO things (id, owner, key, name, metadata)"
            " VALUES ($1, $2, $3, $4, $5::jsonb)",
            [
                (T1, ALICE, K1, "sensor", '{"model": "x1", "site": {"floor": 2}}'),
                (T2, ALICE, K2, "", "{}"),
                (T3, BOB, K3, "bobs", "{}"),
            ],
        )
        await conn.executemany(
            "INSERT INTO channels (id, owner, name, metadata) VALUES ($1, $2, $3, $4::jsonb)",
            [(C1, ALICE, "room", None), (C2, ALICE, "", '{"kind": "alarms"}')],
        )
        await conn.execute(
            "INSERT INTO connections (channel_id, channel_owner, thing_id, thing_owner)"
            " VALUES ($1, $2, $3, $2)",
            C1,
            ALICE,
            T1,
        )
    finally:
        await conn.close()


@pytest.fixture
async def go_things(pg: str) -> AsyncIterator[Any]:
    await make_go_database(pg, "things")
    await fill_go_things(pg)
    engine = create_engine(pg)
    service = await build_things(engine, SingleUserAuth(ALICE, TOKEN), None, InMemoryAccessCache())
    yield service
    await engine.dispose()


@pytest.fixture
async def things_client(go_things: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(create_things_app(go_things))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://things", headers={"Authorization": TOKEN}
    ) as client:
        yield client


async def test_go_thing_keys_pass_access_checks(go_things: Any) -> None:
    assert await go_things.can_access_by_key(C1, K1) == T1
    assert await go_things.identify(K2) == T2
    with pytest.raises(Unauthorized):
        await go_things.can_access_by_key(C2, K1)
    with pytest.raises(Unauthorized):
        await go_things.can_access_by_key(C1, K3)
    await go_things.can_access_by_id(C1, T1)


async def test_go_things_and_channels_list_as_go_shows_them(
    things_client: httpx.AsyncClient,
) -> None:
    things = (await things_client.get("/things")).json()
    assert things["total"] == 2
    assert sorted(things["things"], key=lambda t: t["key"] != K1) == [
        {"id": T1, "name": "sensor", "key": K1, "metadata": {"model": "x1", "site": {"floor": 2}}},
        {"id": T2, "key": K2},
    ]
    channels = (await things_client.get("/channels")).json()
    assert sorted(channels["channels"], key=lambda c: c["id"] != C1) == [
        {"id": C1, "name": "room"},
        {"id": C2, "metadata": {"kind": "alarms"}},
    ]
    connected = (await things_client.get(f"/channels/{C1}/things")).json()
    assert [t["id"] for t in connected["things"]] == [T1]
    by_thing = (await things_client.get(f"/things/{T1}/channels")).json()
    assert [c["id"] for c in by_thing["channels"]] == [C1]
    found = await things_client.get("/things", params={"metadata": '{"site": {"floor": 2}}'})
    assert [t["id"] for t in found.json()["things"]] == [T1]
    named = await things_client.get("/things", params={"name": "SENS"})
    assert [t["id"] for t in named.json()["things"]] == [T1]


async def test_new_rows_join_go_rows(go_things: Any, things_client: httpx.AsyncClient) -> None:
    created = await things_client.post("/things", json={"name": "new"}, headers=JSON)
    assert created.status_code == 201
    new_id = created.headers["Location"].rsplit("/", 1)[1]
    new_key = (await things_client.get(f"/things/{new_id}")).json()["key"]
    assert (await things_client.put(f"/channels/{C1}/things/{new_id}")).status_code == 200
    assert (await things_client.put(f"/channels/{C2}/things/{T2}")).status_code == 200
    assert await go_things.can_access_by_key(C1, new_key) == new_id
    assert await go_things.can_access_by_key(C2, K2) == T2

    taken = await things_client.post("/things", json={"key": K3}, headers=JSON)
    assert taken.status_code == 422, "Go's unique key constraint still holds"
    with pytest.raises(Conflict):
        await go_things.update_key(TOKEN, new_id, K1)

    assert (await things_client.delete(f"/things/{T1}")).status_code == 204
    remaining = (await things_client.get(f"/channels/{C1}/things")).json()
    assert [t["id"] for t in remaining["things"]] == [new_id], "the connection cascaded"
    with pytest.raises(Unauthorized):
        await go_things.can_access_by_key(C1, K1)


async def test_go_things_survive_a_restart(pg: str, go_things: Any) -> None:
    engine = create_engine(pg)
    try:
        again = await build_things(
            engine, SingleUserAuth(ALICE, TOKEN), None, InMemoryAccessCache()
        )
        page = await again.list_things(TOKEN)
        assert sorted(t.id for t in page.items) == sorted([T1, T2])
        assert await again.view_thing(TOKEN, T2) == Thing(id=T2, owner=ALICE, key=K2, metadata={})
    finally:
        await engine.dispose()


# messages (postgres writer and reader) --------------------------------------------------

CHANNEL, PUBLISHER = str(uuid.uuid4()), str(uuid.uuid4())


async def fill_go_messages(url: str) -> None:
    """Records as Go's postgres writer stores them: a new random id each, the data
    value sent as text (for a bytea column PostgreSQL reads it as escaped bytes)."""
    conn = await asyncpg.connect(dsn(url))
    try:
        data_type = await conn.fetchval(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'messages' AND column_name = 'data_value'"
        )
        rows = [
            ("room.1", "temp", "C", 21.5, None, None, None, 1000.0),
            ("room.1", "blob", None, None, None, None, "hello, ü", 1001.0),
            ("room.2", "door", None, None, "open", True, None, 1002.0),
        ]
        for subtopic, name, unit, value, string, boolean, data, time in rows:
            await conn.execute(
                "INSERT INTO messages (id, channel, subtopic, publisher, protocol, name, unit,"
                " value, string_value, bool_value, data_value, sum, time, update_time)"
                f" VALUES ($1, $2, $3, $4, 'http', $5, $6, $7, $8, $9, $10::text::{data_type},"
                " NULL, $11, 0)",
                uuid.uuid4(),
                uuid.UUID(CHANNEL),
                subtopic,
                uuid.UUID(PUBLISHER),
                name,
                unit,
                value,
                string,
                boolean,
                data,
                time,
            )
    finally:
        await conn.close()


@pytest.mark.parametrize("variant", [(), (READER_FIRST,)], ids=["by the writer", "by the reader"])
async def test_go_messages_are_read_and_new_ones_written(pg: str, variant: tuple[str, ...]) -> None:
    await make_go_database(pg, "messages")
    await run_sql(pg, *variant)
    await fill_go_messages(pg)
    engine: AsyncEngine = create_engine(pg)
    try:
        await migrate(engine, "consumers")
        repo, store = SQLReader(engine), PostgresStore(engine)
        page = await repo.read(CHANNEL, PageQuery(limit=10))
        assert page.total == 3
        assert [m["name"] for m in page.messages] == ["door", "blob", "temp"]
        door, blob, temp = page.messages
        assert blob["data_value"] == "hello, ü"
        assert door == {
            "channel": CHANNEL,
            "subtopic": "room.2",
            "publisher": PUBLISHER,
            "protocol": "http",
            "name": "door",
            "time": 1002.0,
            "string_value": "open",
            "bool_value": True,
        }
        assert (temp["value"], temp["unit"]) == (21.5, "C")
        assert (await repo.read(CHANNEL, PageQuery(subtopic="room.1"))).total == 2
        assert (await repo.read(CHANNEL, PageQuery(publisher=PUBLISHER))).total == 3

        # A publisher that is not a UUID (twins) was refused by Go's schema; not any more.
        msg = Message(CHANNEL, "room.1", "twins", "http", b'[{"n":"temp","v":22,"t":1003}]', 5)
        records = senml.transform_json(msg)
        await store.save(list(zip(record_ids(msg, len(records)), records, strict=True)))
        await store.save(list(zip(record_ids(msg, len(records)), records, strict=True)))
        newest = await repo.read(CHANNEL, PageQuery(limit=1))
        assert newest.total == 4
        assert newest.messages[0]["publisher"] == "twins"
    finally:
        await engine.dispose()


# fresh databases and schemas that cannot be adopted --------------------------------------

ALL_SERVICES = ["users", "authn", "things", "consumers"]


async def test_an_empty_database_migrates_every_service_from_scratch(pg: str) -> None:
    for service in ALL_SERVICES:
        await migrated(pg, service)
    versions = dict((t, v) for t, v in (await schema_of(pg))["versions"])
    assert set(versions) == {f"alembic_version_{s}" for s in ALL_SERVICES}


async def test_another_services_go_tables_do_not_stop_a_fresh_migration(pg: str) -> None:
    await make_go_database(pg, "users")
    await migrated(pg, "things")
    await migrated(pg, "users")
    versions = dict((t, v) for t, v in (await schema_of(pg))["versions"])
    assert versions == {"alembic_version_things": "0003", "alembic_version_users": "users_0002"}


DROP_GO_RECORD = "DELETE FROM gorp_migrations"
UNADOPTABLE = [
    ("things", (), ("CREATE TABLE things (id uuid PRIMARY KEY)",), "no record"),
    ("things", ("things",), (DROP_GO_RECORD,), "no record"),
    (
        "things",
        ("things",),
        ("DELETE FROM gorp_migrations WHERE id = 'things_3'",),
        "lacks things_3",
    ),
    (
        "users",
        ("users",),
        ("INSERT INTO gorp_migrations VALUES ('users_3', now())",),
        "users_3, which Go Mainflux 0.11 does not have",
    ),
    (
        "users",
        ("users",),
        ("ALTER TABLE users ALTER COLUMN password TYPE text",),
        "column users.password is text",
    ),
    (
        "things",
        ("things",),
        ("ALTER TABLE things ADD COLUMN type varchar(10)",),
        "table things has column(s) type",
    ),
    (
        "authn",
        ("authn",),
        ("ALTER TABLE keys DROP COLUMN expires_at",),
        "column keys.expires_at of Go Mainflux 0.11 is missing",
    ),
    ("things", ("things",), ("DROP TABLE connections",), "the database has channels, things"),
    (
        "consumers",
        ("messages",),
        ("CREATE TABLE json_messages (id uuid PRIMARY KEY)",),
        "the database has json_messages, messages",
    ),
]
UNADOPTABLE_IDS = [
    "a lone table",
    "go tables without go record",
    "unfinished go migrations",
    "a later go",
    "another column type",
    "an extra column",
    "a missing column",
    "a missing table",
    "a table of ours beside go's",
]


@pytest.mark.parametrize(
    ("service", "go_names", "changes", "expected"), UNADOPTABLE, ids=UNADOPTABLE_IDS
)
async def test_a_schema_that_cannot_be_adopted_fails_with_one_line(
    pg: str, service: str, go_names: tuple[str, ...], changes: tuple[str, ...], expected: str
) -> None:
    await make_go_database(pg, *go_names)
    await run_sql(pg, *changes)
    before = await schema_of(pg)
    with pytest.raises(SchemaError) as failure:
        await migrated(pg, service)
    message = str(failure.value)
    assert "\n" not in message and message.startswith(f"{service}: ")
    assert expected in message
    assert await schema_of(pg) == before, "nothing is stamped or changed"


async def test_sqlite_tables_without_a_record_fail_with_one_line(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE keys (id TEXT PRIMARY KEY)")
        with pytest.raises(SchemaError, match=r"^authn: the database has table\(s\) keys but no"):
            await migrate(engine, "authn")
    finally:
        await engine.dispose()


def test_the_users_service_refuses_an_unknown_schema_in_one_line(pg: str) -> None:
    asyncio.run(run_sql(pg, "CREATE TABLE users (email text PRIMARY KEY)"))
    parsed = make_url(pg)
    environ = clean_env(
        MF_USERS_HTTP_PORT=str(servers.free_port()),
        MF_USERS_DB_HOST=parsed.host or "localhost",
        MF_USERS_DB_PORT=str(parsed.port or 5432),
        MF_USERS_DB_USER=parsed.username or "",
        MF_USERS_DB_PASS=parsed.password or "",
        MF_USERS_DB=parsed.database or "",
    )
    done = subprocess.run(USERS_COMMAND, env=environ, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "MF_USERS_DB_HOST" in lines[0] and "users: the database has table(s) users" in lines[0]
