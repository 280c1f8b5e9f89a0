"""The bootstrap rules on in-memory ports: nothing half-done when things fails, the
created thing removed when the config cannot be saved, state and connections."""

from __future__ import annotations

import uuid

import pytest

from mainflux.bootstrap.models import Config, ConfigChannel, State
from mainflux.bootstrap.service import BootstrapService
from mainflux.core.errors import (
    Conflict,
    MalformedEntity,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from tests.bootstrap_fakes import FakeRepository, FakeThings

TOKEN, OWNER = "token", "owner@example.com"
Parts = tuple[BootstrapService, FakeRepository, FakeThings]


class OneUser:
    async def identify(self, token: str) -> str:
        if token != TOKEN:
            raise Unauthorized()
        return OWNER

    async def issue(self, issuer: str, key_type: int) -> str:
        raise Unauthorized()


@pytest.fixture
def parts() -> Parts:
    repo, things = FakeRepository(), FakeThings(TOKEN)
    return BootstrapService(OneUser(), repo, things, bytes(16)), repo, things


def _channels(things: FakeThings, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for i, channel_id in enumerate(ids):
        things.channels[channel_id] = ConfigChannel(channel_id, f"c{i}")
    return ids


def _config(*channels: str, external_id: str = "e") -> Config:
    return Config(
        external_id=external_id, external_key="k", channels=[ConfigChannel(c) for c in channels]
    )


async def test_a_config_that_cannot_be_saved_removes_the_thing_it_created(parts: Parts) -> None:
    service, repo, things = parts
    repo.fail_save = ServiceUnavailable()
    with pytest.raises(ServiceUnavailable):
        await service.add(TOKEN, _config())
    assert things.things == {} and repo.configs == {}


async def test_a_conflict_keeps_an_existing_thing(parts: Parts) -> None:
    service, _, things = parts
    thing_id, _ = await things.create_thing(TOKEN, "t")
    first = await service.add(TOKEN, _config())
    with pytest.raises(Conflict):
        await service.add(TOKEN, Config(thing_id=thing_id, external_id="e", external_key="k"))
    assert set(things.things) == {thing_id, first.thing_id}


@pytest.mark.parametrize("fail_at", [1, 2, 3], ids=["first", "second", "third"])
async def test_activation_is_all_or_nothing(parts: Parts, fail_at: int) -> None:
    service, repo, things = parts
    config = await service.add(TOKEN, _config(*_channels(things, 3)))
    things.fail_at = fail_at
    with pytest.raises(ServiceUnavailable):
        await service.change_state(TOKEN, config.thing_id, State.ACTIVE)
    assert things.connections == set()
    assert repo.configs[config.thing_id].state is State.INACTIVE


async def test_a_failed_connection_update_puts_everything_back(parts: Parts) -> None:
    service, repo, things = parts
    a, b, c = _channels(things, 3)
    config = await service.add(TOKEN, _config(a, b))
    await service.change_state(TOKEN, config.thing_id, State.ACTIVE)
    things.fail_at = things._calls + 2  # connect c works, disconnect a fails
    with pytest.raises(ServiceUnavailable):
        await service.update_connections(TOKEN, config.thing_id, [b, c])
    assert things.connections == {(a, config.thing_id), (b, config.thing_id)}
    assert repo.configs[config.thing_id].channel_ids == [a, b]


async def test_an_unchanged_state_calls_nothing(parts: Parts) -> None:
    service, _, things = parts
    config = await service.add(TOKEN, _config(*_channels(things, 1)))
    things.unreachable = True
    await service.change_state(TOKEN, config.thing_id, State.INACTIVE)


async def test_a_secure_key_is_checked_after_decryption(parts: Parts) -> None:
    from mainflux.bootstrap import crypto

    service, repo, _ = parts
    await service.add(TOKEN, _config())
    header = crypto.encrypt(bytes(16), b"k").hex()
    assert (await service.bootstrap("e", header, secure=True)).external_id == "e"
    with pytest.raises(NotFound):
        await service.bootstrap("e", "k", secure=True)  # not hex: refused before any lookup
    assert repo.unknown == {}
    wrong = crypto.encrypt(bytes(16), b"other").hex()
    with pytest.raises(NotFound):
        await service.bootstrap("e", wrong, secure=True)
    assert repo.unknown == {"e": wrong}


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (Config(external_id="", external_key="k"), MalformedEntity),
        (Config(external_id="e", external_key=""), MalformedEntity),
        (_config("not-a-uuid"), MalformedEntity),
        (_config(str(uuid.uuid4())), MalformedEntity),
        (Config(thing_id=str(uuid.uuid4()), external_id="e", external_key="k"), NotFound),
    ],
    ids=[
        "no external id",
        "no external key",
        "channel not a uuid",
        "unknown channel",
        "unknown thing",
    ],
)
async def test_bad_configs_create_nothing(
    parts: Parts, config: Config, error: type[Exception]
) -> None:
    service, repo, things = parts
    with pytest.raises(error):
        await service.add(TOKEN, config)
    assert things.things == {} and repo.configs == {}
