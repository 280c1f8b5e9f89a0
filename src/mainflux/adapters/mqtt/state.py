"""Choosing the store of the broker's state from ``MF_MQTT_ADAPTER_STATE_URL``.

- unset: the deployment's own choice: the all-in-one's database (SQLite, or
  PostgreSQL with ``MF_DB_URL``), ``mainflux-mqtt``'s Redis (``MF_MQTT_ADAPTER_ES_URL``);
- ``none``: nothing is kept (a restart forgets sessions and retained messages);
- ``redis://`` or ``rediss://``: that Redis;
- ``postgresql://`` or ``sqlite+aiosqlite://``: that database (migrated at start).

See docs/mqtt.md ("State across restarts") for what is kept and the guarantees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from mainflux.adapters.mqtt.persistence import StateStore
from mainflux.adapters.mqtt.state_redis import RedisStateStore, default_prefix
from mainflux.core.runner import StartupError, first_line

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

STATE_URL: Final = "MF_MQTT_ADAPTER_STATE_URL"
OFF: Final = "none"
_REDIS: Final = ("redis://", "rediss://")
_SQL: Final = ("postgresql://", "postgresql+asyncpg://", "sqlite+aiosqlite://")


def check_state_url(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is empty, ``none`` or a supported URL."""
    if value in ("", OFF) or value.startswith(_REDIS + _SQL):
        return
    scheme = value.split("://", 1)[0] if "://" in value else value[:20]
    raise ValueError(
        f"expected none, a redis://, postgresql:// or sqlite+aiosqlite:// URL, got {scheme!r}"
    )


async def open_state(
    url: str,
    instance: str,
    *,
    engine: AsyncEngine | None = None,
    redis_url: str | None = None,
) -> StateStore | None:
    """The store ``url`` names (``""``: ``engine``'s database, else ``redis_url``'s
    Redis; ``none``: ``None``), its schema migrated. Raises ``StartupError`` naming
    :data:`STATE_URL` when it cannot be used."""
    if url == OFF:
        return None
    try:
        if url.startswith(_REDIS) or (not url and engine is None and redis_url):
            return RedisStateStore(url or str(redis_url), default_prefix(instance))
        # SQLAlchemy only when a database keeps the state (mainflux-mqtt on Redis is
        # about 30 MB smaller without it)
        from mainflux.adapters.mqtt.state_sql import SqlStateStore
        from mainflux.core.db import create_engine

        if url:
            store = SqlStateStore(create_engine(url, pool_size=2), owned=True)
        elif engine is not None:
            store = SqlStateStore(engine)
        else:
            return None
        try:
            await store.create_schema()
        except BaseException:
            await store.close()
            raise
        return store
    except StartupError:
        raise
    except Exception as exc:
        raise StartupError(
            f"{STATE_URL}: cannot open the broker's state: {first_line(exc)}"
        ) from None
