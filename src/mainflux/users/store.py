"""User accounts in SQL (SQLite or PostgreSQL) through SQLAlchemy Core.

The ``users`` table follows Mainflux's schema (``metadata`` is JSONB on PostgreSQL);
its migrations live in ``mainflux/users/migrations``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.errors import Conflict, NotFound
from mainflux.users.models import User
from mainflux.users.ports import UserRepository

#: JSON on SQLite, JSONB on PostgreSQL; a Python ``None`` is stored as SQL NULL.
METADATA_TYPE = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

metadata = sa.MetaData()
users_table = sa.Table(
    "users",
    metadata,
    sa.Column("email", sa.String(254), primary_key=True),
    sa.Column("password", sa.CHAR(60), nullable=False),
    sa.Column("metadata", METADATA_TYPE, nullable=True),
)


class SqlUserRepository:
    """A :class:`~mainflux.users.ports.UserRepository` on an async SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, user: User) -> None:
        statement = users_table.insert().values(
            email=user.email, password=user.password, metadata=user.metadata
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(statement)
        except IntegrityError:
            raise Conflict("email already taken") from None

    async def retrieve_by_email(self, email: str) -> User:
        query = sa.select(users_table).where(users_table.c.email == email)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound()
        return User(email=row.email, password=row.password, metadata=row.metadata)

    async def _update(self, email: str, **values: Any) -> None:
        statement = users_table.update().where(users_table.c.email == email).values(**values)
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        if result.rowcount == 0:
            raise NotFound()

    async def update_metadata(self, email: str, metadata: dict[str, Any] | None) -> None:
        await self._update(email, metadata=metadata)

    async def update_password(self, email: str, password_hash: str) -> None:
        await self._update(email, password=password_hash)


_check: type[UserRepository] = SqlUserRepository
