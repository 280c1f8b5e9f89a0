"""The SQL key repository on SQLite and PostgreSQL, schema from the authn migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.models import API, Key
from mainflux.authn.store import SqlKeyRepository
from mainflux.core.db import create_engine, migrate
from mainflux.core.errors import Conflict, NotFound
from mainflux.core.ids import new_id

ISSUED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate(engine, "authn")
    yield engine
    await engine.dispose()


@pytest.fixture
def repo(engine: AsyncEngine) -> SqlKeyRepository:
    return SqlKeyRepository(engine)


def api_key(issuer: str = "alice@example.com", **changes: object) -> Key:
    values: dict = {"id": new_id(), "type": API, "issuer": issuer, "issued_at": ISSUED}
    values.update(changes)
    return Key(**values)


async def test_a_saved_key_is_retrieved_with_its_times(repo: SqlKeyRepository) -> None:
    key = api_key(expires_at=ISSUED + timedelta(hours=1))
    await repo.save(key)
    assert await repo.retrieve(key.issuer, key.id) == key


async def test_a_key_without_expiry_keeps_none(repo: SqlKeyRepository) -> None:
    key = api_key()
    await repo.save(key)
    assert (await repo.retrieve(key.issuer, key.id)).expires_at is None


async def test_saving_the_same_id_and_issuer_twice_is_a_conflict(repo: SqlKeyRepository) -> None:
    key = api_key()
    await repo.save(key)
    with pytest.raises(Conflict):
        await repo.save(key)
    await repo.save(api_key(issuer="bob@example.com", id=key.id))


@pytest.mark.parametrize(
    "key_id", ["not-a-uuid", "", "0c65e353-7059-45b2-a3d8-564dce6c7900"], ids=str
)
async def test_unknown_or_malformed_ids_are_not_found(repo: SqlKeyRepository, key_id: str) -> None:
    with pytest.raises(NotFound):
        await repo.retrieve("alice@example.com", key_id)
    await repo.remove("alice@example.com", key_id)


async def test_a_key_is_only_found_under_its_issuer(repo: SqlKeyRepository) -> None:
    key = api_key()
    await repo.save(key)
    with pytest.raises(NotFound):
        await repo.retrieve("bob@example.com", key.id)
    await repo.remove("bob@example.com", key.id)
    assert await repo.retrieve(key.issuer, key.id) == key


async def test_a_removed_key_is_gone(repo: SqlKeyRepository) -> None:
    key = api_key()
    await repo.save(key)
    await repo.remove(key.issuer, key.id)
    with pytest.raises(NotFound):
        await repo.retrieve(key.issuer, key.id)


async def test_migrating_again_changes_nothing(engine: AsyncEngine, repo: SqlKeyRepository) -> None:
    key = api_key()
    await repo.save(key)
    await migrate(engine, "authn")
    assert await repo.retrieve(key.issuer, key.id) == key
