"""API keys and revocations in SQL (SQLite or PostgreSQL) through SQLAlchemy Core.

The ``keys`` table follows Mainflux's schema; ``revocations`` holds, per user, the
moment up to which every key of theirs is void. Migrations live in
``mainflux/authn/migrations``. Times are stored as naive UTC ``TIMESTAMP``s with
microseconds."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.models import Key
from mainflux.authn.ports import KeyRepository
from mainflux.core.errors import Conflict, NotFound
from mainflux.core.ids import is_uuid

metadata = sa.MetaData()
keys_table = sa.Table(
    "keys",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("type", sa.SmallInteger),
    sa.Column("issuer", sa.String(254), primary_key=True),
    sa.Column("issued_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=True),
)
revocations_table = sa.Table(
    "revocations",
    metadata,
    sa.Column("issuer", sa.String(254), primary_key=True),
    sa.Column("revoked_at", sa.DateTime, nullable=False),
)


def _to_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def _from_db(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


class SqlKeyRepository:
    """A :class:`~mainflux.authn.ports.KeyRepository` on an async SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, key: Key) -> None:
        statement = keys_table.insert().values(
            id=key.id,
            type=key.type,
            issuer=key.issuer,
            issued_at=_to_db(key.issued_at),
            expires_at=_to_db(key.expires_at),
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(statement)
        except IntegrityError:
            raise Conflict() from None

    async def retrieve(self, issuer: str, key_id: str) -> Key:
        if not is_uuid(key_id):
            raise NotFound()
        c = keys_table.c
        query = sa.select(keys_table).where(c.id == key_id, c.issuer == issuer)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound()
        issued_at = _from_db(row.issued_at)
        assert issued_at is not None
        return Key(
            id=str(row.id),
            type=row.type,
            issuer=row.issuer,
            issued_at=issued_at,
            expires_at=_from_db(row.expires_at),
        )

    async def remove(self, issuer: str, key_id: str) -> None:
        if not is_uuid(key_id):
            return
        c = keys_table.c
        async with self._engine.begin() as conn:
            await conn.execute(keys_table.delete().where(c.id == key_id, c.issuer == issuer))

    async def revoke_all(self, issuer: str, moment: datetime) -> None:
        revoked_at = _to_db(moment)
        c = keys_table.c
        async with self._engine.begin() as conn:
            insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            upsert = insert(revocations_table).values(issuer=issuer, revoked_at=revoked_at)
            await conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=[revocations_table.c.issuer],
                    set_={"revoked_at": upsert.excluded.revoked_at},
                )
            )
            await conn.execute(
                keys_table.delete().where(c.issuer == issuer, c.issued_at <= revoked_at)
            )

    async def revoked_until(self, issuer: str) -> datetime | None:
        query = sa.select(revocations_table.c.revoked_at).where(
            revocations_table.c.issuer == issuer
        )
        async with self._engine.connect() as conn:
            return _from_db((await conn.execute(query)).scalar_one_or_none())


_check: type[KeyRepository] = SqlKeyRepository
