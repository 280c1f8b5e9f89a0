"""Applying the message store's migrations, at start-up of a writer or a reader.

The migrations keep the name they had when the writer and the reader shared one
package: :data:`MIGRATIONS` (``consumers``) names the version table
(``alembic_version_consumers``) and the advisory lock every existing database knows,
and ``mainflux.core.db`` finds the revisions here under that name."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import SchemaError, migrate
from mainflux.core.retry import Backoff, retry

log = logging.getLogger("mainflux.storage")

#: The name of the message store's migrations, as databases record it.
MIGRATIONS: Final = "consumers"


async def migrate_messages(engine: AsyncEngine) -> None:
    """Apply every pending revision of the message store on ``engine``.

    Raises ``SchemaError`` for message tables that cannot be adopted."""
    await migrate(engine, MIGRATIONS)


async def migrate_when_reachable(
    engine: AsyncEngine, stop: asyncio.Event, *, max_backoff: float = 5.0
) -> bool:
    """Apply the message store's migrations, retrying with backoff until they run.

    The database may be unreachable, or another instance may be migrating right now.
    Returns False when ``stop`` was set before the migrations could run. Raises
    ``SchemaError`` at once for tables that cannot be adopted: retrying cannot help."""

    async def attempt() -> bool | SchemaError:
        try:
            await migrate_messages(engine)
        except SchemaError as exc:
            return exc
        return True

    done = await retry(
        attempt,
        stop,
        what="message database migration",
        backoff=Backoff(0.2, max_backoff),
        logger=log,
    )
    if isinstance(done, SchemaError):
        raise done
    return done is True
