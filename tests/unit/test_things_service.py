"""The things service's rules on in-memory fakes: ownership, keys, connections, cache."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

import pytest

from mainflux.core.errors import Conflict, MalformedEntity, NotFound, Unauthorized
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.models import Channel, Metadata, Page, Thing
from mainflux.things.ports import ThingsRepository
from mainflux.things.service import ThingsService
from mainflux.things.store import json_contains

ALICE, BOB = "alice-token", "bob-token"


class FakeUserAuth:
    """Two users with fixed tokens."""

    users = {ALICE: "alice@example.com", BOB: "bob@example.com"}

    async def identify(self, token: str) -> str:
        if token not in self.users:
            raise Unauthorized()
        return self.users[token]

    async def issue(self, issuer: str, key_type: int) -> str:
        raise Unauthorized()


class FakeRepository:
    """Things, channels and connections in dicts, with the SQL repository's rules."""

    def __init__(self) -> None:
        self.things: dict[tuple[str, str], Thing] = {}
        self.channels: dict[tuple[str, str], Channel] = {}
        self.connections: set[tuple[str, str, str]] = set()  # (owner, channel, thing)
        self.calls = 0

    async def save_things(self, things: Sequence[Thing]) -> None:
        taken = {t.key for t in self.things.values()}
        keys = [t.key for t in things]
        if len(set(keys)) != len(keys) or taken & set(keys):
            raise Conflict()
        for t in things:
            self.things[(t.owner, t.id)] = replace(t)

    async def update_thing(self, owner: str, thing_id: str, name: str, metadata: Metadata) -> None:
        thing = await self.retrieve_thing(owner, thing_id)
        self.things[(owner, thing_id)] = replace(thing, name=name, metadata=metadata)

    async def update_key(self, owner: str, thing_id: str, key: str) -> None:
        thing = await self.retrieve_thing(owner, thing_id)
        if any(t.key == key and t.id != thing_id for t in self.things.values()):
            raise Conflict()
        self.things[(owner, thing_id)] = replace(thing, key=key)

    async def retrieve_thing(self, owner: str, thing_id: str) -> Thing:
        if (owner, thing_id) not in self.things:
            raise NotFound()
        return replace(self.things[(owner, thing_id)])

    async def thing_id_by_key(self, key: str) -> str:
        self.calls += 1
        for thing in self.things.values():
            if thing.key == key:
                return thing.id
        raise NotFound()

    @staticmethod
    def _page(items: list, offset: int, limit: int) -> Page:
        items = sorted(items, key=lambda e: e.id)
        return Page(len(items), offset, limit, items[offset : offset + limit])

    async def list_things(
        self, owner: str, offset: int, limit: int, name: str, metadata: Metadata | None
    ) -> Page[Thing]:
        items = [
            t
            for (o, _), t in self.things.items()
            if o == owner
            and name.lower() in t.name.lower()
            and json_contains(t.metadata or {}, metadata or {})
        ]
        return self._page(items, offset, limit)

    async def list_things_by_channel(
        self, owner: str, channel_id: str, offset: int, limit: int
    ) -> Page[Thing]:
        ids = {t for (o, c, t) in self.connections if o == owner and c == channel_id}
        return self._page([self.things[(owner, i)] for i in ids], offset, limit)

    async def remove_thing(self, owner: str, thing_id: str) -> bool:
        self.connections = {x for x in self.connections if (x[0], x[2]) != (owner, thing_id)}
        return self.things.pop((owner, thing_id), None) is not None

    async def save_channels(self, channels: Sequence[Channel]) -> None:
        for c in channels:
            self.channels[(c.owner, c.id)] = replace(c)

    async def update_channel(
        self, owner: str, channel_id: str, name: str, metadata: Metadata | None
    ) -> None:
        channel = await self.retrieve_channel(owner, channel_id)
        self.channels[(owner, channel_id)] = replace(channel, name=name, metadata=metadata)

    async def retrieve_channel(self, owner: str, channel_id: str) -> Channel:
        if (owner, channel_id) not in self.channels:
            raise NotFound()
        return replace(self.channels[(owner, channel_id)])

    async def list_channels(
        self, owner: str, offset: int, limit: int, name: str, metadata: Metadata | None
    ) -> Page[Channel]:
        items = [
            c
            for (o, _), c in self.channels.items()
            if o == owner
            and name.lower() in c.name.lower()
            and json_contains(c.metadata or {}, metadata or {})
        ]
        return self._page(items, offset, limit)

    async def list_channels_by_thing(
        self, owner: str, thing_id: str, offset: int, limit: int
    ) -> Page[Channel]:
        ids = {c for (o, c, t) in self.connections if o == owner and t == thing_id}
        return self._page([self.channels[(owner, i)] for i in ids], offset, limit)

    async def channel_ids_of_thing(self, owner: str, thing_id: str) -> list[str]:
        return [c for (o, c, t) in self.connections if o == owner and t == thing_id]

    async def remove_channel(self, owner: str, channel_id: str) -> bool:
        self.connections = {x for x in self.connections if (x[0], x[1]) != (owner, channel_id)}
        return self.channels.pop((owner, channel_id), None) is not None

    async def connect(
        self, owner: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> None:
        pairs = {(owner, c, t) for c in channel_ids for t in thing_ids}
        for _, c, t in pairs:
            if (owner, c) not in self.channels or (owner, t) not in self.things:
                raise NotFound()
        if pairs & self.connections:
            raise Conflict()
        self.connections |= pairs

    async def disconnect(self, owner: str, channel_id: str, thing_id: str) -> None:
        if (owner, channel_id, thing_id) not in self.connections:
            raise NotFound()
        self.connections.discard((owner, channel_id, thing_id))

    async def has_connection(self, channel_id: str, thing_id: str) -> bool:
        self.calls += 1
        return any(c == channel_id and t == thing_id for (_, c, t) in self.connections)


_repo_check: type[ThingsRepository] = FakeRepository


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def cache() -> InMemoryAccessCache:
    return InMemoryAccessCache()


@pytest.fixture
def svc(repo: FakeRepository, cache: InMemoryAccessCache) -> ThingsService:
    return ThingsService(FakeUserAuth(), repo, cache)


async def _thing(svc: ThingsService, token: str = ALICE, **fields: object) -> Thing:
    (thing,) = await svc.create_things(token, [Thing(**fields)])  # type: ignore[arg-type]
    return thing


async def _channel(svc: ThingsService, token: str = ALICE, **fields: object) -> Channel:
    (channel,) = await svc.create_channels(token, [Channel(**fields)])  # type: ignore[arg-type]
    return channel


async def test_created_things_get_ids_owner_and_random_uuid_keys(svc: ThingsService) -> None:
    things = await svc.create_things(ALICE, [Thing(name="a"), Thing(key="mine", metadata={"x": 1})])
    assert [t.owner for t in things] == ["alice@example.com"] * 2
    assert len({t.id for t in things}) == 2
    assert uuid.UUID(things[0].key).version == 4
    assert things[1].key == "mine"
    assert things[0].metadata == {}
    assert await svc.view_thing(ALICE, things[1].id) == things[1]


async def test_keys_are_unique_across_owners(svc: ThingsService) -> None:
    await _thing(svc, ALICE, key="shared")
    with pytest.raises(Conflict):
        await _thing(svc, BOB, key="shared")


@pytest.mark.parametrize(
    "things",
    [[], [Thing(name="n" * 1025)], [Thing(key="k" * 4097)], [Thing(metadata=[1])]],  # type: ignore[arg-type]
    ids=["empty", "long-name", "long-key", "metadata-not-object"],
)
async def test_invalid_things_are_malformed(svc: ThingsService, things: list[Thing]) -> None:
    with pytest.raises(MalformedEntity):
        await svc.create_things(ALICE, things)


@pytest.mark.parametrize("token", ["", "wrong"], ids=["empty", "unknown"])
async def test_a_bad_token_is_unauthorized_everywhere(svc: ThingsService, token: str) -> None:
    thing_id = str(uuid.uuid4())
    for call in (
        svc.create_things(token, [Thing()]),
        svc.create_channels(token, [Channel()]),
        svc.view_thing(token, thing_id),
        svc.list_things(token),
        svc.list_channels(token),
        svc.remove_thing(token, thing_id),
        svc.remove_channel(token, thing_id),
        svc.connect(token, [thing_id], [thing_id]),
        svc.authorize_owner(token, thing_id),
    ):
        with pytest.raises(Unauthorized):
            await call


async def test_one_user_never_sees_or_changes_another_users_entities(
    svc: ThingsService, repo: FakeRepository
) -> None:
    thing = await _thing(svc, ALICE, name="alice's")
    channel = await _channel(svc, ALICE, name="alice's")
    bob_thing = await _thing(svc, BOB)
    bob_channel = await _channel(svc, BOB)
    with pytest.raises(NotFound):
        await svc.view_thing(BOB, thing.id)
    with pytest.raises(NotFound):
        await svc.view_channel(BOB, channel.id)
    with pytest.raises(NotFound):
        await svc.update_thing(BOB, Thing(id=thing.id, name="x"))
    with pytest.raises(NotFound):
        await svc.update_channel(BOB, Channel(id=channel.id, name="x"))
    with pytest.raises(NotFound):
        await svc.update_key(BOB, thing.id, "stolen")
    with pytest.raises(NotFound):
        await svc.connect(BOB, [channel.id], [bob_thing.id])
    with pytest.raises(NotFound):
        await svc.connect(BOB, [bob_channel.id], [thing.id])
    with pytest.raises(NotFound):
        await svc.authorize_owner(BOB, channel.id)
    assert await svc.remove_thing(BOB, thing.id) is False
    assert await svc.remove_channel(BOB, channel.id) is False
    assert [t.id for t in (await svc.list_things(BOB)).items] == [bob_thing.id]
    assert [c.id for c in (await svc.list_channels(BOB)).items] == [bob_channel.id]
    assert await svc.view_thing(ALICE, thing.id) == thing
    assert (await svc.view_channel(ALICE, channel.id)).name == "alice's"
    await svc.authorize_owner(ALICE, channel.id)


async def test_update_replaces_name_and_metadata(svc: ThingsService) -> None:
    thing = await _thing(svc, name="old", metadata={"a": 1})
    await svc.update_thing(ALICE, Thing(id=thing.id, name="new"))
    viewed = await svc.view_thing(ALICE, thing.id)
    assert (viewed.name, viewed.metadata, viewed.key) == ("new", {}, thing.key)
    channel = await _channel(svc, metadata={"a": 1})
    await svc.update_channel(ALICE, Channel(id=channel.id, metadata={"b": 2}))
    assert (await svc.view_channel(ALICE, channel.id)).metadata == {"b": 2}


async def test_non_uuid_ids_are_not_found_on_reads_and_malformed_on_writes(
    svc: ThingsService,
) -> None:
    with pytest.raises(NotFound):
        await svc.view_thing(ALICE, "not-a-uuid")
    with pytest.raises(NotFound):
        await svc.view_channel(ALICE, "1")
    with pytest.raises(NotFound):
        await svc.list_things_by_channel(ALICE, "x")
    with pytest.raises(NotFound):
        await svc.list_channels_by_thing(ALICE, "x")
    with pytest.raises(NotFound):
        await svc.connect(ALICE, ["x"], ["y"])
    with pytest.raises(NotFound):
        await svc.disconnect(ALICE, "x", "y")
    with pytest.raises(MalformedEntity):
        await svc.update_thing(ALICE, Thing(id="x"))
    with pytest.raises(MalformedEntity):
        await svc.update_key(ALICE, "x", "key")
    with pytest.raises(MalformedEntity):
        await svc.remove_thing(ALICE, "x")
    assert await svc.remove_channel(ALICE, "x") is False


@pytest.mark.parametrize("limit", [0, 101], ids=["zero", "over-100"])
async def test_limits_outside_1_to_100_are_malformed(svc: ThingsService, limit: int) -> None:
    with pytest.raises(MalformedEntity):
        await svc.list_things(ALICE, limit=limit)
    with pytest.raises(MalformedEntity):
        await svc.list_channels(ALICE, limit=limit)


async def test_lists_page_filter_and_count(svc: ThingsService) -> None:
    await svc.create_things(
        ALICE,
        [Thing(name=f"Sensor-{i}", metadata={"room": i % 2, "tags": ["a", "b"]}) for i in range(5)],
    )
    await _thing(svc, name="other")
    page = await svc.list_things(ALICE, offset=1, limit=2, name="sensor")
    assert (page.total, page.offset, page.limit, len(page.items)) == (5, 1, 2, 2)
    page = await svc.list_things(ALICE, metadata={"room": 1}, limit=100)
    assert page.total == 2
    assert (await svc.list_things(ALICE, metadata={"tags": ["b"]}, limit=100)).total == 5
    everything = (await svc.list_things(ALICE, limit=100)).items
    assert [t.id for t in everything] == sorted(t.id for t in everything)


async def test_connect_all_pairs_and_list_both_ways(svc: ThingsService) -> None:
    things = await svc.create_things(ALICE, [Thing(), Thing()])
    channels = await svc.create_channels(ALICE, [Channel(), Channel()])
    await svc.connect(ALICE, [c.id for c in channels], [t.id for t in things])
    for channel in channels:
        assert (await svc.list_things_by_channel(ALICE, channel.id)).total == 2
    for thing in things:
        page = await svc.list_channels_by_thing(ALICE, thing.id)
        assert {c.id for c in page.items} == {c.id for c in channels}
    with pytest.raises(Conflict):
        await svc.connect(ALICE, [channels[0].id], [things[0].id])
    with pytest.raises(NotFound):
        await svc.connect(ALICE, [channels[0].id], [str(uuid.uuid4())])
    with pytest.raises(MalformedEntity):
        await svc.connect(ALICE, [], [things[0].id])
    with pytest.raises(MalformedEntity):
        await svc.connect(ALICE, [""], [things[0].id])


async def test_access_by_key_and_id_need_a_connection(svc: ThingsService) -> None:
    thing = await _thing(svc, key="device-key")
    channel = await _channel(svc)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_key(channel.id, "device-key")
    await svc.connect(ALICE, [channel.id], [thing.id])
    assert await svc.can_access_by_key(channel.id, "device-key") == thing.id
    await svc.can_access_by_id(channel.id, thing.id)
    assert await svc.identify("device-key") == thing.id
    for channel_id, key in [(channel.id, ""), (channel.id, "wrong"), ("", "device-key")]:
        with pytest.raises(Unauthorized):
            await svc.can_access_by_key(channel_id, key)
    for call in (svc.identify(""), svc.identify("wrong"), svc.can_access_by_id("x", thing.id)):
        with pytest.raises(Unauthorized):
            await call


async def test_a_warm_cache_answers_without_the_repository(
    svc: ThingsService, repo: FakeRepository
) -> None:
    thing = await _thing(svc, key="warm")
    channel = await _channel(svc)
    await svc.connect(ALICE, [channel.id], [thing.id])
    await svc.can_access_by_key(channel.id, "warm")
    calls = repo.calls
    for _ in range(3):
        assert await svc.can_access_by_key(channel.id, "warm") == thing.id
    assert repo.calls == calls


async def test_a_key_change_drops_the_old_key_at_once(
    svc: ThingsService, cache: InMemoryAccessCache
) -> None:
    thing = await _thing(svc, key="old")
    other = await _thing(svc, key="taken")
    assert await svc.identify("old") == thing.id
    with pytest.raises(Conflict):
        await svc.update_key(ALICE, thing.id, "taken")
    await svc.update_key(ALICE, thing.id, "new")
    assert await cache.thing_id("old") is None
    with pytest.raises(Unauthorized):
        await svc.identify("old")
    assert await svc.identify("new") == thing.id
    assert await svc.identify("taken") == other.id
    with pytest.raises(MalformedEntity):
        await svc.update_key(ALICE, thing.id, "")


async def test_removal_and_disconnect_invalidate_the_cache(
    svc: ThingsService, cache: InMemoryAccessCache
) -> None:
    things = await svc.create_things(ALICE, [Thing(key="k1"), Thing(key="k2"), Thing(key="k3")])
    channels = await svc.create_channels(ALICE, [Channel(), Channel()])
    await svc.connect(ALICE, [c.id for c in channels], [t.id for t in things])
    for channel in channels:
        for thing in things:
            await svc.can_access_by_key(channel.id, thing.key)
    c1, c2 = channels[0].id, channels[1].id
    t1, t2, t3 = (t.id for t in things)

    await svc.disconnect(ALICE, c1, t1)
    assert not await cache.is_connected(c1, t1)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_id(c1, t1)
    with pytest.raises(NotFound):
        await svc.disconnect(ALICE, c1, t1)

    assert await svc.remove_thing(ALICE, t2) is True
    assert await cache.thing_id("k2") is None
    assert not await cache.is_connected(c1, t2)
    assert not await cache.is_connected(c2, t2)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_key(c2, "k2")
    with pytest.raises(Unauthorized):
        await svc.can_access_by_id(c2, t2)
    assert await svc.remove_thing(ALICE, t2) is False

    assert await svc.remove_channel(ALICE, c2) is True
    assert not await cache.is_connected(c2, t3)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_key(c2, "k3")
    assert await svc.can_access_by_key(c1, "k3") == t3
