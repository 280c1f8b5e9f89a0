"""Database engines and schema migrations.

One SQLAlchemy Core repository per service runs on SQLite and PostgreSQL; each
service's schema lives in Alembic migrations under ``<service>/migrations`` and is
applied at start with its own version table, so services can share one database
(the all-in-one) or have one each (microservices).

A PostgreSQL database that Go Mainflux 0.11 created is adopted on the first
``migrate``: see :class:`GoSchema`."""

from __future__ import annotations

import importlib
import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import mainflux
from mainflux.core.runner import StartupError

log = logging.getLogger("mainflux.db")

#: The table in which Go Mainflux's migration library (rubenv/sql-migrate) records the
#: ids of the migrations it applied.
GO_RECORD_TABLE = "gorp_migrations"


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
    config.set_main_option("script_location", str(_migrations_dir(service)))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = f"alembic_version_{service}"
    return config


#: Migrations kept in a package of another name. The name is what databases record
#: (``alembic_version_<name>``, the advisory lock), so it outlives a move: the message
#: store's migrations are still ``consumers``, the package that once held them.
_PACKAGES: Final = {"consumers": "storage", "mqtt": "adapters.mqtt"}


def _package(service: str) -> str:
    """The ``mainflux`` subpackage holding the ``migrations`` of ``service``."""
    return _PACKAGES.get(service, service)


def _migrations_dir(service: str) -> Path:
    return Path(mainflux.__file__).parent.joinpath(*_package(service).split(".")) / "migrations"


class SchemaError(StartupError):
    """The database holds tables of the service that neither Alembic nor Go Mainflux
    0.11 accounts for; the message says what was found, in one line."""


@dataclass(frozen=True)
class GoSchema:
    """How Go Mainflux 0.11's migrations leave a service's PostgreSQL database.

    A service describes it as ``SCHEMA`` in ``<service>/migrations/go_schema.py``.
    When the database has no Alembic record of the service but has exactly ``tables``,
    with these columns, and ``gorp_migrations`` records exactly ``migrations``,
    :func:`migrate` stamps ``revision`` (our revision that creates the same tables) and
    then upgrades to head as usual; the revisions after it carry the differences."""

    migrations: frozenset[str]
    """The ids Go records in ``gorp_migrations`` for this service, e.g. ``users_1``."""
    prefix: str
    """What every id of this service starts with: an unknown one means a later Go."""
    tables: Mapping[str, Mapping[str, str | tuple[str, ...]]]
    """Each Go table's columns, with the PostgreSQL ``data_type`` (or the types) Go
    leaves them with."""
    revision: str
    """The revision stamped on adoption."""
    ours: frozenset[str]
    """Every table our migrations create: any of them without a record is refused."""


def _go_schema(service: str) -> GoSchema | None:
    if not (_migrations_dir(service) / "go_schema.py").is_file():
        return None
    module = importlib.import_module(f"mainflux.{_package(service)}.migrations.go_schema")
    schema: GoSchema = module.SCHEMA
    return schema


def _has_alembic_record(connection: Connection, tables: set[str], service: str) -> bool:
    version_table = f"alembic_version_{service}"
    if version_table not in tables:
        return False
    quoted = connection.dialect.identifier_preparer.quote(version_table)
    return connection.execute(sa.text(f"SELECT 1 FROM {quoted} LIMIT 1")).first() is not None


def _go_columns(connection: Connection, table: str) -> dict[str, str]:
    rows = connection.execute(
        sa.text(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = :table"
        ),
        {"table": table},
    )
    return {name: data_type for name, data_type in rows}


def _check_go_tables(connection: Connection, service: str, go: GoSchema) -> None:
    """Raise :class:`SchemaError` naming the first column that differs from Go's."""
    for table, expected in go.tables.items():
        found = _go_columns(connection, table)
        for column, types in expected.items():
            accepted = (types,) if isinstance(types, str) else types
            if column not in found:
                raise SchemaError(
                    f"{service}: column {table}.{column} of Go Mainflux 0.11 is missing; "
                    "cannot adopt this schema"
                )
            if found[column] not in accepted:
                raise SchemaError(
                    f"{service}: column {table}.{column} is {found[column]}, Go Mainflux 0.11 "
                    f"made it {' or '.join(accepted)}; cannot adopt this schema"
                )
        extra = sorted(set(found) - set(expected))
        if extra:
            raise SchemaError(
                f"{service}: table {table} has column(s) {', '.join(extra)} that Go Mainflux "
                "0.11 does not make; cannot adopt this schema"
            )


def _go_record(connection: Connection, tables: set[str], go: GoSchema) -> set[str]:
    if GO_RECORD_TABLE not in tables:
        return set()
    rows = connection.execute(sa.text(f"SELECT id FROM {GO_RECORD_TABLE}"))
    return {str(rid) for (rid,) in rows if str(rid).startswith(go.prefix)}


def _go_revision(connection: Connection, service: str) -> str | None:
    """The revision to stamp before upgrading, when the database is Go Mainflux's.

    None when Alembic already records the service, or when none of its tables exist
    (a fresh database). Raises :class:`SchemaError` for any other unrecorded schema."""
    go = _go_schema(service)
    if go is None:
        return None
    tables = set(sa.inspect(connection).get_table_names())
    if _has_alembic_record(connection, tables, service):
        return None
    present = tables & (go.ours | set(go.tables))
    if not present:
        return None
    names = ", ".join(sorted(present))
    postgres = connection.dialect.name == "postgresql"
    recorded = _go_record(connection, tables, go) if postgres else set()
    if not recorded:
        raise SchemaError(
            f"{service}: the database has table(s) {names} but no record of the migrations "
            f"that made them (neither alembic_version_{service} nor {go.prefix}* rows in "
            f"{GO_RECORD_TABLE}); use an empty database or one Go Mainflux 0.11 made"
        )
    unknown = sorted(recorded - go.migrations)
    if unknown:
        raise SchemaError(
            f"{service}: {GO_RECORD_TABLE} records {', '.join(unknown)}, which Go Mainflux 0.11 "
            "does not have; only a 0.11 schema can be adopted"
        )
    missing = sorted(go.migrations - recorded)
    if missing:
        raise SchemaError(
            f"{service}: {GO_RECORD_TABLE} lacks {', '.join(missing)} of Go Mainflux 0.11; "
            "start the Go 0.11 service on this database once to complete its schema"
        )
    if present != set(go.tables):
        raise SchemaError(
            f"{service}: Go Mainflux 0.11 makes table(s) {', '.join(sorted(go.tables))}, "
            f"the database has {names}; cannot adopt this schema"
        )
    _check_go_tables(connection, service, go)
    log.warning(
        "%s: adopting the schema of Go Mainflux 0.11 (%s %s) as revision %s",
        service,
        GO_RECORD_TABLE,
        ", ".join(sorted(recorded)),
        go.revision,
    )
    return go.revision


def migration_lock_id(service: str) -> int:
    """The PostgreSQL advisory lock that :func:`migrate` holds for ``service`` while it
    runs, so that processes starting together migrate one after the other."""
    return zlib.crc32(f"mainflux.migrate.{service}".encode())


def _upgrade(connection: Connection, service: str) -> None:
    if connection.dialect.name == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock(:id)")
        connection.execute(lock, {"id": migration_lock_id(service)})
    config = _alembic_config(service, connection)
    stamp = _go_revision(connection, service)
    if stamp is not None:
        command.stamp(config, stamp)
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine, service: str) -> None:
    """Apply every pending migration of ``service`` (e.g. ``things``), in one transaction
    (on PostgreSQL under :func:`migration_lock_id`).

    A database that Go Mainflux 0.11 made for the service (see :class:`GoSchema`) is
    adopted first: its revision is stamped, then the later revisions run. Raises
    :class:`SchemaError` when some of the service's tables exist with no record of
    their migrations, or a Go record that is not 0.11's."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: _upgrade(sync, service))


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
