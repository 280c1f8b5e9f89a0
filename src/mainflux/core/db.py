"""Database engines and schema migrations.

One SQLAlchemy Core repository per service runs on SQLite and PostgreSQL; each
service's schema lives in Alembic migrations under ``<service>/migrations`` and is
applied at start with its own version table, so services can share one database
(the all-in-one) or have one each (microservices)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import mainflux


def sqlite_url(path: Path) -> str:
    """The aiosqlite URL of a database file."""
    return f"sqlite+aiosqlite:///{path}"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create an async engine for ``url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``).

    SQLite gets WAL mode, foreign keys and a busy timeout so several writers in one
    process do not fail on a locked file."""
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=pool_size, pool_pre_ping=True)


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def _alembic_config(service: str, connection: Connection) -> Config:
    config = Config()
    location = Path(mainflux.__file__).parent / service / "migrations"
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = f"alembic_version_{service}"
    return config


async def migrate(engine: AsyncEngine, service: str) -> None:
    """Apply every pending migration of ``service`` (e.g. ``things``)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_alembic_config(service, sync), "head"))


def run_migrations_online(context) -> None:  # type: ignore[no-untyped-def]
    """The body of each service's Alembic ``env.py``: migrate on the given connection."""
    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        version_table=config.attributes["version_table"],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
