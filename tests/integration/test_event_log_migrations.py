"""The embedded event log's table comes from an Alembic migration, on SQLite and PostgreSQL,
and a database whose table an earlier release made without one is adopted as it is."""

from __future__ import annotations

import sqlalchemy as sa

from mainflux.core.db import create_engine
from mainflux.events.sql import SqlEventStream, metadata


async def versions_and_tables(url: str) -> tuple[list[str], set[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
            versions = (
                (await conn.execute(sa.text("SELECT version_num FROM alembic_version_events")))
                .scalars()
                .all()
                if "alembic_version_events" in tables
                else []
            )
    finally:
        await engine.dispose()
    return list(versions), tables


async def test_a_fresh_database_gets_the_table_from_the_migration(db_url: str) -> None:
    engine = create_engine(db_url)
    stream = SqlEventStream(engine)
    await stream.create_schema()
    await stream.create_schema()  # a second start applies nothing
    entry = await stream.append("mainflux.things", {"operation": "thing.create"})
    assert await stream.read("mainflux.things") == [(entry, {"operation": "thing.create"})]
    await engine.dispose()
    versions, tables = await versions_and_tables(db_url)
    assert versions == ["events_0002"]
    assert "mf_events" in tables


async def test_a_table_made_before_migrations_is_adopted_with_its_entries(db_url: str) -> None:
    engine = create_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)  # what earlier releases did
    stream = SqlEventStream(engine)
    old = await stream.append("mainflux.things", {"operation": "thing.remove", "id": "t1"})
    await stream.create_schema()
    new = await stream.append("mainflux.things", {"operation": "thing.create", "id": "t2"})
    assert [entry_id for entry_id, _ in await stream.read("mainflux.things")] == [old, new]
    await engine.dispose()
    versions, _ = await versions_and_tables(db_url)
    assert versions == ["events_0002"]
