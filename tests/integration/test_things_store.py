"""The things repository on SQLite and PostgreSQL: persistence, filters, totals, errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import create_engine, migrate
from mainflux.core.errors import Conflict, NotFound
from mainflux.things.models import Channel, Thing
from mainflux.things.store import SqlThingsRepository

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate(engine, "things")
    yield engine
    await engine.dispose()


@pytest.fixture
def repo(engine: AsyncEngine) -> SqlThingsRepository:
    return SqlThingsRepository(engine)


def _id() -> str:
    return str(uuid.uuid4())


def _thing(owner: str = ALICE, **fields: object) -> Thing:
    return Thing(id=_id(), owner=owner, key=_id(), **fields)  # type: ignore[arg-type]


def _channel(owner: str = ALICE, **fields: object) -> Channel:
    return Channel(id=_id(), owner=owner, **fields)  # type: ignore[arg-type]


async def test_migrations_apply_twice(engine: AsyncEngine) -> None:
    await migrate(engine, "things")
    assert (await SqlThingsRepository(engine).list_things(ALICE, 0, 10, "", None)).total == 0


async def test_things_round_trip_and_keys_are_unique(repo: SqlThingsRepository) -> None:
    thing = _thing(name="t", metadata={"a": {"b": [1, 2]}})
    await repo.save_things([thing])
    assert await repo.retrieve_thing(ALICE, thing.id) == thing
    assert await repo.thing_id_by_key(thing.key) == thing.id
    with pytest.raises(NotFound):
        await repo.retrieve_thing(BOB, thing.id)
    with pytest.raises(Conflict):
        await repo.save_things([Thing(id=_id(), owner=BOB, key=thing.key)])
    pair = [_thing(), _thing()]
    pair[1].key = thing.key
    with pytest.raises(Conflict):
        await repo.save_things(pair)
    with pytest.raises(NotFound):
        await repo.retrieve_thing(ALICE, pair[0].id)
    with pytest.raises(NotFound):
        await repo.thing_id_by_key("unknown")


async def test_empty_metadata_is_an_object_for_things_and_none_for_channels(
    repo: SqlThingsRepository,
) -> None:
    thing, channel = _thing(metadata={}), _channel()
    await repo.save_things([thing])
    await repo.save_channels([channel])
    assert (await repo.retrieve_thing(ALICE, thing.id)).metadata == {}
    assert (await repo.retrieve_channel(ALICE, channel.id)).metadata is None


async def test_updates_touch_only_the_owners_rows(repo: SqlThingsRepository) -> None:
    thing, other = _thing(name="a"), _thing()
    channel = _channel(name="c")
    await repo.save_things([thing, other])
    await repo.save_channels([channel])
    await repo.update_thing(ALICE, thing.id, "b", {"x": 1})
    viewed = await repo.retrieve_thing(ALICE, thing.id)
    assert (viewed.name, viewed.metadata) == ("b", {"x": 1})
    await repo.update_key(ALICE, thing.id, "new-key")
    assert await repo.thing_id_by_key("new-key") == thing.id
    await repo.update_channel(ALICE, channel.id, "d", {"y": True})
    viewed_channel = await repo.retrieve_channel(ALICE, channel.id)
    assert (viewed_channel.name, viewed_channel.metadata) == ("d", {"y": True})
    with pytest.raises(Conflict):
        await repo.update_key(ALICE, other.id, "new-key")
    for call in (
        repo.update_thing(BOB, thing.id, "z", {}),
        repo.update_key(BOB, thing.id, "z"),
        repo.update_channel(BOB, channel.id, "z", None),
        repo.retrieve_channel(BOB, channel.id),
    ):
        with pytest.raises(NotFound):
            await call


async def test_list_filters_by_name_and_metadata_with_totals(repo: SqlThingsRepository) -> None:
    things = [
        _thing(name="Kitchen Sensor", metadata={"room": "kitchen", "floor": 1, "tags": ["t", "h"]}),
        _thing(name="kitchen lamp", metadata={"room": "kitchen", "floor": 1.0, "on": True}),
        _thing(name="Garage 100%", metadata={"room": "garage", "nested": {"a": {"b": 2}}}),
        _thing(name="ÄPFEL", metadata={"floor": "1"}),
        _thing(name="garage_door"),
    ]
    await repo.save_things(things)
    await repo.save_things([_thing(BOB, name="kitchen bob", metadata={"room": "kitchen"})])

    async def names(**query: object) -> tuple[int, set[str]]:
        page = await repo.list_things(
            ALICE,
            query.get("offset", 0),  # type: ignore[arg-type]
            query.get("limit", 100),  # type: ignore[arg-type]
            query.get("name", ""),  # type: ignore[arg-type]
            query.get("metadata"),  # type: ignore[arg-type]
        )
        return page.total, {t.name for t in page.items}

    assert await names() == (5, {t.name for t in things})
    assert await names(name="KITCHEN") == (2, {"Kitchen Sensor", "kitchen lamp"})
    assert await names(name="0%") == (1, {"Garage 100%"})
    assert await names(name="e_d") == (1, {"garage_door"})
    assert await names(name="äpf") == (1, {"ÄPFEL"})
    assert await names(metadata={"room": "kitchen"}) == (2, {"Kitchen Sensor", "kitchen lamp"})
    assert await names(metadata={"floor": 1}) == (2, {"Kitchen Sensor", "kitchen lamp"})
    assert await names(metadata={"tags": ["h"]}) == (1, {"Kitchen Sensor"})
    assert await names(metadata={"on": True}) == (1, {"kitchen lamp"})
    assert await names(metadata={"on": 1}) == (0, set())
    assert await names(metadata={"nested": {"a": {"b": 2}}}) == (1, {"Garage 100%"})
    assert await names(name="lamp", metadata={"room": "kitchen"}) == (1, {"kitchen lamp"})
    assert await names(name="sensor", metadata={"room": "garage"}) == (0, set())

    ordered = sorted(t.id for t in things)
    page = await repo.list_things(ALICE, 1, 2, "", None)
    assert (page.total, page.offset, page.limit) == (5, 1, 2)
    assert [t.id for t in page.items] == ordered[1:3]
    filtered = await repo.list_things(ALICE, 1, 1, "kitchen", {"room": "kitchen"})
    kitchen = sorted(t.id for t in things if "kitchen" in t.name.lower())
    assert filtered.total == 2
    assert [t.id for t in filtered.items] == kitchen[1:2]


async def test_channel_lists_filter_the_same_way(repo: SqlThingsRepository) -> None:
    channels = [
        _channel(name="Alarms", metadata={"type": "alarm", "level": [1, 2]}),
        _channel(name="alarm-test"),
        _channel(name="Telemetry", metadata={"type": "data"}),
    ]
    await repo.save_channels(channels)
    await repo.save_channels([_channel(BOB, name="alarms of bob")])
    page = await repo.list_channels(ALICE, 0, 10, "ALARM", None)
    assert (page.total, {c.name for c in page.items}) == (2, {"Alarms", "alarm-test"})
    page = await repo.list_channels(ALICE, 0, 10, "", {"level": [2]})
    assert (page.total, [c.name for c in page.items]) == (1, ["Alarms"])
    page = await repo.list_channels(ALICE, 2, 10, "", None)
    assert (page.total, [c.id for c in page.items]) == (3, sorted(c.id for c in channels)[2:])


async def test_connections_are_owner_scoped_atomic_and_cascade(repo: SqlThingsRepository) -> None:
    t1, t2, bob_thing = _thing(), _thing(), _thing(BOB)
    c1, c2 = _channel(), _channel()
    await repo.save_things([t1, t2, bob_thing])
    await repo.save_channels([c1, c2])

    with pytest.raises(NotFound):
        await repo.connect(ALICE, [c1.id], [bob_thing.id])
    with pytest.raises(NotFound):
        await repo.connect(BOB, [c1.id], [bob_thing.id])
    with pytest.raises(NotFound):
        await repo.connect(ALICE, [c1.id], [t1.id, _id()])
    assert not await repo.has_connection(c1.id, t1.id)

    await repo.connect(ALICE, [c1.id, c2.id], [t1.id, t2.id])
    with pytest.raises(Conflict):
        await repo.connect(ALICE, [c1.id], [t1.id])
    assert await repo.has_connection(c2.id, t2.id)
    page = await repo.list_things_by_channel(ALICE, c1.id, 0, 1)
    assert (page.total, len(page.items)) == (2, 1)
    assert page.items[0].id == min(t1.id, t2.id)
    page = await repo.list_channels_by_thing(ALICE, t1.id, 0, 10)
    assert [c.id for c in page.items] == sorted([c1.id, c2.id])
    assert (await repo.list_things_by_channel(BOB, c1.id, 0, 10)).total == 0
    assert sorted(await repo.channel_ids_of_thing(ALICE, t1.id)) == sorted([c1.id, c2.id])

    await repo.disconnect(ALICE, c1.id, t1.id)
    with pytest.raises(NotFound):
        await repo.disconnect(ALICE, c1.id, t1.id)
    with pytest.raises(NotFound):
        await repo.disconnect(BOB, c2.id, t1.id)
    assert not await repo.has_connection(c1.id, t1.id)

    assert await repo.remove_thing(ALICE, t2.id) is True
    assert await repo.remove_thing(ALICE, t2.id) is False
    assert not await repo.has_connection(c2.id, t2.id)
    assert await repo.remove_channel(BOB, c2.id) is False
    assert await repo.remove_channel(ALICE, c2.id) is True
    assert await repo.channel_ids_of_thing(ALICE, t1.id) == []
    assert (await repo.list_channels_by_thing(ALICE, t1.id, 0, 10)).total == 0


async def test_owners_follow_the_users_migration_without_handing_things_over(
    db_url: str,
) -> None:
    """All-in-one layout: users and things share the database."""
    from alembic import command

    from mainflux.core.db import _alembic_config
    from mainflux.users.models import User
    from mainflux.users.store import SqlUserRepository

    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config("users", sync), "users_0001")
            )
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config("things", sync), "0002")
            )
        users = SqlUserRepository(engine)
        for email in ("John@Example.com", "Bob@Example.com", "bob@example.com"):
            await users.save(User(email, "$2b$04$" + "x" * 53, None))
        repo = SqlThingsRepository(engine)
        ids = {owner: str(uuid.uuid4()) for owner in ("John@Example.com", "Bob@Example.com")}
        for owner, thing_id in ids.items():
            await repo.save_things([Thing(id=thing_id, owner=owner, key=thing_id, name="t")])
            await repo.save_channels([Channel(id=thing_id, owner=owner, name="c")])
            await repo.connect(owner, [thing_id], [thing_id])
        await migrate(engine, "users")
        await migrate(engine, "things")
        john = ids["John@Example.com"]
        assert (await repo.retrieve_thing("john@example.com", john)).owner == "john@example.com"
        assert await repo.channel_ids_of_thing("john@example.com", john) == [john]
        assert await repo.has_connection(john, john)
        # Bob@ and bob@ clash: the users migration left both, so do things.
        bob = ids["Bob@Example.com"]
        assert (await repo.retrieve_thing("Bob@Example.com", bob)).owner == "Bob@Example.com"
        with pytest.raises(NotFound):
            await repo.retrieve_thing("bob@example.com", bob)
    finally:
        await engine.dispose()


async def test_concurrent_access_lookups_are_answered_each_correctly(
    repo: SqlThingsRepository,
) -> None:
    things = [_thing() for _ in range(40)]
    channel, other = _channel(), _channel()
    await repo.save_things(things)
    await repo.save_channels([channel, other])
    await repo.connect(ALICE, [channel.id], [t.id for t in things[::2]])
    keys = [t.key for t in things] + ["no-such-key"]
    found = await asyncio.gather(
        *(repo.thing_id_by_key(key) for key in keys), return_exceptions=True
    )
    assert found[:-1] == [t.id for t in things]
    assert isinstance(found[-1], NotFound)
    pairs = [(channel.id, t.id) for t in things] + [(other.id, things[0].id)]
    connected = await asyncio.gather(*(repo.has_connection(c, t) for c, t in pairs))
    assert connected == [i % 2 == 0 for i in range(40)] + [False]
