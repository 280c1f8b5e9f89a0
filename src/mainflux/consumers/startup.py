"""Start-up helpers shared by the writer and reader processes."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import SchemaError, migrate
from mainflux.core.retry import Backoff, retry

log = logging.getLogger("mainflux.consumers")


async def migrate_when_reachable(
    engine: AsyncEngine, stop: asyncio.Event, *, max_backoff: float = 5.0
) -> bool:
    """Apply the message store's migrations, retrying with backoff until they run.

    The database may be unreachable, or another instance may be migrating right now.
    Returns False when ``stop`` was set before the migrations could run. Raises
    ``SchemaError`` at once for tables that cannot be adopted: retrying cannot help."""

    async def attempt() -> bool | SchemaError:
        try:
            await migrate(engine, "consumers")
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
