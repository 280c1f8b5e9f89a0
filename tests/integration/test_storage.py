"""The message store on SQLite and PostgreSQL: idempotent batches written by the
writers' engines, every filter of the SQL reader, and the migrations' stored name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux import storage
from mainflux.core import errors
from mainflux.core.db import create_engine
from mainflux.messaging.envelope import Message
from mainflux.readers.models import PageQuery
from mainflux.readers.sql import SQLReader
from mainflux.storage.migrate import migrate_messages
from mainflux.storage.schema import json_messages, messages, metadata
from mainflux.transformers import json as json_transformer
from mainflux.transformers import senml
from mainflux.writers.postgres import PostgresStore
from mainflux.writers.rows import record_ids
from mainflux.writers.sqlite import SQLiteStore
from mainflux.writers.store import MessageStore, open_store

CHANNEL = "5f0b1e0c-6d7e-4bd7-9b7c-0d3a1c2f4e51"
#: The last revision of the message store's migrations.
HEAD = ScriptDirectory(str(Path(storage.__file__).parent / "migrations")).get_current_head()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate_messages(engine)
    yield engine
    await engine.dispose()


def rows(msg: Message) -> list[tuple]:
    records = senml.transform_json(msg)
    return list(zip(record_ids(msg, len(records)), records, strict=True))


async def fill(store: MessageStore) -> None:
    batch = []
    for i in range(10):
        msg = Message(
            CHANNEL,
            "room.a" if i % 2 else "room.b",
            "thing-1" if i < 5 else "thing-2",
            "http" if i < 7 else "mqtt",
            (
                f'[{{"n":"temp","v":{i},"t":{1000 + i}}},{{"n":"state","vs":"s{i}",'
                f'"t":{1000 + i}}},{{"n":"on","vb":{"true" if i % 3 == 0 else "false"},'
                f'"t":{1000 + i}}},{{"n":"blob","vd":"d{i}","t":{1000 + i}}}]'
            ).encode(),
            created=i,
        )
        batch.extend(rows(msg))
    other = Message("other-channel", "", "thing-1", "http", b'[{"n":"temp","v":1,"t":1}]', 1)
    batch.extend(rows(other))
    await store.save(batch)


async def test_the_same_message_is_stored_once(engine: AsyncEngine) -> None:
    store, reader = open_store(engine), SQLReader(engine)
    msg = Message(CHANNEL, "", "t", "http", b'[{"n":"a","v":1},{"n":"b","v":2}]', 7)
    await store.save(rows(msg))
    await store.save(rows(msg) + rows(Message(CHANNEL, "", "t", "http", msg.payload, 8)))
    page = await reader.read(CHANNEL, PageQuery())
    assert page.total == 4


async def test_a_batch_repeating_a_message_stores_it_once(engine: AsyncEngine) -> None:
    store, reader = open_store(engine), SQLReader(engine)
    msg = Message(CHANNEL, "", "t", "http", b'[{"n":"a","v":1},{"n":"b","v":2}]', 7)
    other = Message(CHANNEL, "", "t", "http", b'[{"n":"c","vd":"ZGF0YQ"}]', 8)
    await store.save(rows(msg) + rows(msg) + rows(other))
    await store.save(rows(other) + rows(msg))
    page = await reader.read(CHANNEL, PageQuery())
    assert page.total == 3
    assert {m["name"] for m in page.messages} == {"a", "b", "c"}
    assert [m["data_value"] for m in page.messages if m["name"] == "c"] == ["ZGF0YQ"]


async def test_senml_and_json_rows_are_stored_together_once(engine: AsyncEngine) -> None:
    store = open_store(engine)
    msg = Message(CHANNEL, "", "t", "http", b'[{"n":"a","v":1}]', 7)
    json_msg = Message(CHANNEL, "", "t", "http", b'{"temp":1}', 7)
    objects = json_transformer.transform(json_msg)
    json_rows = list(zip(record_ids(json_msg, 1), objects, strict=True))
    await store.save(rows(msg), [])
    await store.save(rows(msg), json_rows)  # SenML already stored: JSON still goes in
    await store.save(rows(msg), json_rows)
    async with engine.connect() as conn:
        counted = [
            (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar()
            for table in (messages, json_messages)
        ]
    assert counted == [1, 1]


def test_record_ids_are_stable_across_versions() -> None:
    msg = Message(
        CHANNEL, "room.a", "thing-\u00e9", "http", b'[{"n":"a","v":1}]', 1700000000123456789
    )
    assert [str(i) for i in record_ids(msg, 2)] == [
        "dc577f79-1bef-5010-94ce-9200feda511a",
        "2ab0f1de-2bfa-5a4a-91b9-dfc2d300254d",
    ]
    assert record_ids(msg, 1) == record_ids(msg, 2)[:1]


def test_record_ids_depend_on_the_message_and_position() -> None:
    msg = Message(CHANNEL, "", "t", "http", b"[]", 7)
    first, second = record_ids(msg, 2)
    assert first != second
    assert record_ids(msg, 2) == [first, second]
    assert record_ids(Message(CHANNEL, "", "t", "http", b"[]", 8), 1) != [first]
    assert first.version == 5


async def test_a_record_reads_back_in_the_readers_shape(engine: AsyncEngine) -> None:
    store, reader = open_store(engine), SQLReader(engine)
    msg = Message(
        CHANNEL,
        "a.b",
        "thing",
        "coap",
        b'[{"bn":"d:","n":"x","u":"C","v":0,"t":5,"ut":2,"s":3}]',
        1,
    )
    await store.save(rows(msg))
    page = await reader.read(CHANNEL, PageQuery())
    assert page.messages == [
        {
            "channel": CHANNEL,
            "subtopic": "a.b",
            "publisher": "thing",
            "protocol": "coap",
            "name": "d:x",
            "unit": "C",
            "time": 5.0,
            "update_time": 2.0,
            "value": 0.0,
            "sum": 3.0,
        }
    ]


FILTERS = [
    ("channel only", PageQuery(limit=100), 40),
    ("subtopic", PageQuery(subtopic="room.a"), 20),
    ("publisher", PageQuery(publisher="thing-2"), 20),
    ("protocol", PageQuery(protocol="mqtt"), 12),
    ("name", PageQuery(name="temp"), 10),
    ("value eq", PageQuery(name="temp", value=3), 1),
    ("value lt", PageQuery(value=3, comparator="lt"), 3),
    ("value le", PageQuery(value=3, comparator="le"), 4),
    ("value gt", PageQuery(value=3, comparator="gt"), 6),
    ("value ge", PageQuery(value=3, comparator="ge"), 7),
    ("string value", PageQuery(string_value="s4"), 1),
    ("bool value true", PageQuery(bool_value=True), 4),
    ("bool value false", PageQuery(bool_value=False), 6),
    ("data value", PageQuery(data_value="d9"), 1),
    ("from is inclusive", PageQuery(from_time=1008), 8),
    ("to is exclusive", PageQuery(to_time=1002), 8),
    ("time range", PageQuery(name="temp", from_time=1002, to_time=1005), 3),
    (
        "everything",
        PageQuery(
            subtopic="room.a",
            publisher="thing-2",
            protocol="mqtt",
            name="temp",
            value=7,
            comparator="ge",
        ),
        2,
    ),
    ("nothing matches", PageQuery(name="nope"), 0),
]


@pytest.mark.parametrize(("query", "total"), [f[1:] for f in FILTERS], ids=[f[0] for f in FILTERS])
async def test_total_honours_every_filter(
    engine: AsyncEngine, query: PageQuery, total: int
) -> None:
    store, reader = open_store(engine), SQLReader(engine)
    await fill(store)
    page = await reader.read(CHANNEL, query)
    assert page.total == total
    assert len(page.messages) == min(total, query.limit)
    assert all(m["channel"] == CHANNEL for m in page.messages)


async def test_pages_are_newest_first_with_offset(engine: AsyncEngine) -> None:
    store, reader = open_store(engine), SQLReader(engine)
    await fill(store)
    first = await reader.read(CHANNEL, PageQuery(name="temp", limit=3))
    second = await reader.read(CHANNEL, PageQuery(name="temp", limit=3, offset=3))
    assert [m["value"] for m in first.messages] == [9.0, 8.0, 7.0]
    assert [m["value"] for m in second.messages] == [6.0, 5.0, 4.0]
    assert (second.total, second.offset, second.limit) == (10, 3, 3)


async def test_json_objects_are_stored_with_their_fields(engine: AsyncEngine) -> None:
    store = open_store(engine)
    msg = Message(CHANNEL, "", "t", "http", b'[{"a": 1, "b": {"c": [1, 2]}}, {"d": "e"}]', 5)
    objects = json_transformer.transform(msg)
    json_rows = list(zip(record_ids(msg, 2), objects, strict=True))
    await store.save([], json_rows)
    await store.save([], json_rows)
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(json_messages.c.payload, json_messages.c.created).order_by(
                    json_messages.c.id
                )
            )
        ).all()
    assert sorted(str(p) for p, _ in stored) == sorted(str(o.payload) for o in objects)
    assert {c for _, c in stored} == {5}


async def test_an_unreachable_database_is_service_unavailable() -> None:
    engine = create_engine("postgresql+asyncpg://mainflux:mainflux@127.0.0.1:1/none")
    store, reader = open_store(engine), SQLReader(engine)
    msg = Message(CHANNEL, "", "t", "http", b'[{"n":"a","v":1}]', 1)
    with pytest.raises(errors.ServiceUnavailable):
        await store.save(rows(msg))
    with pytest.raises(errors.ServiceUnavailable):
        await reader.read(CHANNEL, PageQuery())
    await engine.dispose()


async def test_rows_the_database_refuses_are_malformed(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    await migrate_messages(engine)
    store = open_store(engine)
    msg = Message(CHANNEL, "", "t", "http", b'[{"n":"a","vs":"nul \\u0000 inside"}]', 1)
    with pytest.raises(errors.MalformedEntity):
        await store.save(rows(msg))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(messages))).scalar() == 0
    await engine.dispose()


async def test_rows_match_what_sqlalchemy_stores_so_earlier_rows_are_recognised(
    engine: AsyncEngine,
) -> None:
    """Rows stored through SQLAlchemy's own insert (as earlier versions did on SQLite)
    are the same rows: a redelivery stores nothing twice and ids read back as UUIDs."""
    msg = Message(CHANNEL, "a", "t", "http", b'[{"n":"x","vd":"bytes"},{"n":"y","vb":true}]', 7)
    batch = rows(msg)
    async with engine.begin() as conn:
        rid, record = batch[0]
        values = {"id": rid, **{f: getattr(record, f) for f in record.__struct_fields__}}
        values["data_value"] = record.data_value.encode() if record.data_value else None
        await conn.execute(sa.insert(messages), [values])
    store = open_store(engine)
    await store.save(batch)
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(messages.c.id, messages.c.data_value))).all()
    assert sorted(str(i) for i, _ in stored) == sorted(str(i) for i, _ in batch)
    assert sorted(bytes(d or b"") for _, d in stored) == [b"", b"bytes"]


async def test_a_database_failing_the_insert_is_service_unavailable(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("DROP TABLE messages"))
    msg = Message(CHANNEL, "", "t", "http", b'[{"n":"a","v":1}]', 1)
    with pytest.raises(errors.ServiceUnavailable):
        await open_store(engine).save(rows(msg))


async def test_each_engine_has_its_store(engine: AsyncEngine) -> None:
    expected = PostgresStore if engine.dialect.name == "postgresql" else SQLiteStore
    assert type(open_store(engine)) is expected


async def test_a_database_migrated_before_writers_and_readers_split_stays_at_head(
    db_url: str,
) -> None:
    """Databases know the message store's migrations as ``consumers``: version table
    ``alembic_version_consumers``, as one package held the writer and the reader."""
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.exec_driver_sql(
            "CREATE TABLE alembic_version_consumers (version_num VARCHAR(32) PRIMARY KEY)"
        )
        await conn.exec_driver_sql(f"INSERT INTO alembic_version_consumers VALUES ('{HEAD}')")
    await migrate_messages(engine)
    await migrate_messages(engine)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        versions = (
            await conn.exec_driver_sql("SELECT version_num FROM alembic_version_consumers")
        ).all()
    await engine.dispose()
    assert [t for t in tables if t.startswith("alembic_version")] == ["alembic_version_consumers"]
    assert versions == [(HEAD,)]
