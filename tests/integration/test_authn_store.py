"""The SQL key repository on SQLite and PostgreSQL, schema from the authn migrations:
API keys, revocations, and the migration that lower-cases issuers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.models import API, Key
from mainflux.authn.store import SqlKeyRepository
from mainflux.core.db import _alembic_config, create_engine, migrate
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


async def test_issue_times_keep_their_microseconds(repo: SqlKeyRepository) -> None:
    key = api_key(issued_at=ISSUED + timedelta(microseconds=123456))
    await repo.save(key)
    assert (await repo.retrieve(key.issuer, key.id)).issued_at == key.issued_at


async def test_a_revocation_is_recorded_per_issuer_and_replaced(repo: SqlKeyRepository) -> None:
    assert await repo.revoked_until("alice@example.com") is None
    first = ISSUED + timedelta(microseconds=1)
    await repo.revoke_all("alice@example.com", first)
    assert await repo.revoked_until("alice@example.com") == first
    assert await repo.revoked_until("bob@example.com") is None
    later = ISSUED + timedelta(seconds=5, microseconds=999999)
    await repo.revoke_all("alice@example.com", later)
    assert await repo.revoked_until("alice@example.com") == later


async def test_a_revocation_deletes_the_issuers_earlier_api_keys(repo: SqlKeyRepository) -> None:
    moment = ISSUED + timedelta(microseconds=500)
    earlier = api_key(issued_at=ISSUED)
    at_the_moment = api_key(issued_at=moment)
    later = api_key(issued_at=moment + timedelta(microseconds=1))
    bobs = api_key(issuer="bob@example.com", issued_at=ISSUED)
    for key in (earlier, at_the_moment, later, bobs):
        await repo.save(key)
    await repo.revoke_all("alice@example.com", moment)
    for gone in (earlier, at_the_moment):
        with pytest.raises(NotFound):
            await repo.retrieve(gone.issuer, gone.id)
    assert await repo.retrieve(later.issuer, later.id) == later
    assert await repo.retrieve(bobs.issuer, bobs.id) == bobs


async def test_the_migration_lower_cases_issuers_unless_that_clashes(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config("authn", sync), "authn_0001")
            )
        repo = SqlKeyRepository(engine)
        mixed = api_key(issuer="Alice@Example.com")
        clash_upper = api_key(issuer="Bob@Example.com")
        clash_lower = api_key(issuer="bob@example.com", id=clash_upper.id)
        for key in (mixed, clash_upper, clash_lower):
            await repo.save(key)
        await migrate(engine, "authn")
        assert await repo.retrieve("alice@example.com", mixed.id) == api_key(
            issuer="alice@example.com", id=mixed.id
        )
        assert await repo.retrieve("Bob@Example.com", clash_upper.id) == clash_upper
        assert await repo.retrieve("bob@example.com", clash_lower.id) == clash_lower
    finally:
        await engine.dispose()
