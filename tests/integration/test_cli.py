"""The ``mainflux`` command: ``events`` on real Redis, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from mainflux.events.redis import RedisEventStream


def _mainflux(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mainflux.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_events_prints_a_redis_stream(redis_url: str) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    events = RedisEventStream(redis_url)
    first = await events.append(stream, {"operation": "thing.create", "id": "t1"})
    await events.append(stream, {"operation": "thing.remove", "id": "t1"})
    await events.close()
    result = _mainflux("events", stream, MF_REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{first} operation='thing.create' id='t1'"
    assert lines[1].endswith("operation='thing.remove' id='t1'")
    assert len(lines) == 2


def test_events_with_redis_unreachable_says_so_in_one_line() -> None:
    result = _mainflux("events", "mainflux.things", MF_REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert result.stderr.startswith("mainflux: cannot read mainflux.things:")
    assert "Traceback" not in result.stderr


def test_events_with_a_bad_redis_url_names_the_setting() -> None:
    result = _mainflux("events", "mainflux.things", MF_REDIS_URL="localhost:6379")
    assert result.returncode == 2
    assert "MF_REDIS_URL" in result.stderr


def test_serve_refuses_an_unknown_service() -> None:
    result = _mainflux("serve", "teapot")
    assert result.returncode == 2
    assert "unknown service 'teapot'" in result.stderr
    assert "Traceback" not in result.stderr
