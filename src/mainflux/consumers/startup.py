"""Start-up helpers shared by the writer and reader processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import migrate

log = logging.getLogger("mainflux.consumers")


async def migrate_when_reachable(
    engine: AsyncEngine, stop: asyncio.Event, *, max_backoff: float = 5.0
) -> bool:
    """Apply the message store's migrations, retrying with backoff until they run.

    Returns False when ``stop`` was set before the database could be reached."""
    delay = 0.2
    while not stop.is_set():
        try:
            await migrate(engine, "consumers")
            return True
        except Exception as exc:  # unreachable, or another instance migrating right now
            log.warning(
                "message database not ready (%s); retrying in %.1fs", type(exc).__name__, delay
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, max_backoff)
    return False
