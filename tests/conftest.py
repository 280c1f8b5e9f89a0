"""Fixtures shared by every test: real servers and databases, provisioned per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import servers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cases marked ``slow`` run first: with several workers they overlap the rest of the
    run instead of ending it alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private Redis server for the whole run."""
    with servers.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def nats() -> Iterator[servers.NatsServer]:
    """A private NATS server with JetStream for the whole run."""
    with servers.nats_server() as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats: servers.NatsServer) -> str:
    return nats.url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with servers.postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for one test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'mainflux.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'mainflux.db'}"
    else:
        with servers.postgres_database() as url:
            yield url
