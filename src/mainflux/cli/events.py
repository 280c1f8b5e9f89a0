"""``mainflux events``: print an event stream like ``redis-cli XRANGE``, from either log."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from redis.exceptions import RedisError

from mainflux import settings as allinone_settings
from mainflux.core.config import ConfigError
from mainflux.core.db import create_engine, sqlite_url
from mainflux.events.redis import RedisEventStream
from mainflux.events.sql import SqlEventStream
from mainflux.events.stream import EventStream


async def print_stream(stream: str, *, follow: bool, overrides: Mapping[str, str | None]) -> int:
    """Print every entry of ``stream`` (and new ones with ``follow``); return an exit code."""
    try:
        settings = allinone_settings.load(overrides)
    except ConfigError as exc:
        print(f"mainflux: {exc}", file=sys.stderr)
        return 2
    engine = None
    if settings.redis_url:
        events: EventStream = RedisEventStream(settings.redis_url)
    else:
        if not settings.db_url and not settings.sqlite_path.exists():
            print(f"mainflux: no data in {settings.data_dir} (MF_DATA_DIR)", file=sys.stderr)
            return 1
        engine = create_engine(settings.db_url or sqlite_url(settings.sqlite_path))
        sql = SqlEventStream(engine)
        await sql.create_schema()
        events = sql
    after = "0-0"
    try:
        while True:
            entries = await events.read(stream, after, count=500, block=1.0 if follow else None)
            for entry_id, fields in entries:
                pairs = " ".join(f"{k}={v!r}" for k, v in fields.items())
                print(f"{entry_id} {pairs}", flush=True)
                after = entry_id
            if not entries and not follow:
                return 0
    except KeyboardInterrupt:
        return 0
    except (OSError, RedisError) as exc:
        print(f"mainflux: cannot read {stream}: {exc}", file=sys.stderr)
        return 1
    finally:
        await events.close()
        if engine is not None:
            await engine.dispose()
