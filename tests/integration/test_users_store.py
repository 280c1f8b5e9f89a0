"""The SQL user repository on SQLite and PostgreSQL, schema from the users migrations
(including the one that lower-cases emails)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import _alembic_config, create_engine, migrate
from mainflux.core.errors import Conflict, NotFound
from mainflux.users.models import User
from mainflux.users.store import SqlUserRepository

HASH = "$2b$04$" + "x" * 53


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate(engine, "users")
    yield engine
    await engine.dispose()


@pytest.fixture
def repo(engine: AsyncEngine) -> SqlUserRepository:
    return SqlUserRepository(engine)


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {"a": 1, "nested": {"list": [1, "two", None], "ü": True}}],
    ids=["none", "empty", "nested"],
)
async def test_a_saved_user_is_retrieved(repo: SqlUserRepository, metadata: dict | None) -> None:
    await repo.save(User("alice@example.com", HASH, metadata))
    user = await repo.retrieve_by_email("alice@example.com")
    assert (user.email, user.password, user.metadata) == ("alice@example.com", HASH, metadata)


async def test_an_email_is_taken_once(repo: SqlUserRepository) -> None:
    await repo.save(User("alice@example.com", HASH))
    with pytest.raises(Conflict, match="email already taken"):
        await repo.save(User("alice@example.com", HASH))


async def test_a_utf8_email_round_trips(repo: SqlUserRepository) -> None:
    await repo.save(User("ü@bücher.de", HASH))
    assert (await repo.retrieve_by_email("ü@bücher.de")).email == "ü@bücher.de"


async def test_an_unknown_email_is_not_found(repo: SqlUserRepository) -> None:
    with pytest.raises(NotFound):
        await repo.retrieve_by_email("nobody@example.com")
    with pytest.raises(NotFound):
        await repo.update_metadata("nobody@example.com", {})
    with pytest.raises(NotFound):
        await repo.update_password("nobody@example.com", HASH)


async def test_updates_touch_only_their_user(repo: SqlUserRepository) -> None:
    await repo.save(User("alice@example.com", HASH, {"v": 1}))
    await repo.save(User("bob@example.com", HASH, {"v": 2}))
    other_hash = "$2b$04$" + "y" * 53
    await repo.update_metadata("alice@example.com", {"v": 3})
    await repo.update_password("alice@example.com", other_hash)
    alice = await repo.retrieve_by_email("alice@example.com")
    bob = await repo.retrieve_by_email("bob@example.com")
    assert (alice.metadata, alice.password) == ({"v": 3}, other_hash)
    assert (bob.metadata, bob.password) == ({"v": 2}, HASH)


async def test_metadata_can_be_cleared(repo: SqlUserRepository) -> None:
    await repo.save(User("alice@example.com", HASH, {"v": 1}))
    await repo.update_metadata("alice@example.com", None)
    assert (await repo.retrieve_by_email("alice@example.com")).metadata is None


async def test_the_migration_lower_cases_emails_unless_two_accounts_clash(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda sync: command.upgrade(_alembic_config("users", sync), "users_0001")
            )
        repo = SqlUserRepository(engine)
        for email in ("Alice@Example.com", "Bob@Example.com", "bob@example.com", "ÜLI@Bücher.DE"):
            await repo.save(User(email, HASH, {"was": email}))
        await migrate(engine, "users")
        alice = await repo.retrieve_by_email("alice@example.com")
        assert alice.metadata == {"was": "Alice@Example.com"}
        assert (await repo.retrieve_by_email("üli@bücher.de")).metadata == {"was": "ÜLI@Bücher.DE"}
        for unchanged in ("Bob@Example.com", "bob@example.com"):
            assert (await repo.retrieve_by_email(unchanged)).metadata == {"was": unchanged}
        with pytest.raises(NotFound):
            await repo.retrieve_by_email("Alice@Example.com")
    finally:
        await engine.dispose()
