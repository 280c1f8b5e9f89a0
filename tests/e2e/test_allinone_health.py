"""The all-in-one's ``/health`` and event retention, as a user runs it."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Platform
from tests.servers import nats_server, restartable_redis, wait_until

FAST = {"MF_HEALTH_INTERVAL": "0.2", "MF_HEALTH_TIMEOUT": "1"}


def until_health(platform: Platform, status: int, failing: set[str], what: str) -> dict[str, Any]:
    seen: list[Any] = []

    def reached() -> bool:
        response = httpx.get(f"{platform.url}/health", timeout=5)
        body = response.json()
        seen[:] = [response.status_code, body]
        down = {name for name, check in body["checks"].items() if check["status"] != "pass"}
        return response.status_code == status and down == failing

    wait_until(lambda: reached(), f"{what} (last answer: {seen})", timeout=20)
    return seen[1]


def test_the_embedded_platform_reports_its_database(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "data", extra_env=FAST)
    platform.start()
    try:
        body = until_health(platform, 200, set(), "the platform is healthy")
        assert body["status"] == "pass"
        assert body["checks"] == {"database": {"status": "pass"}}, "no NATS, no Redis to watch"
    finally:
        assert platform.stop() == 0, platform.output


def test_nats_and_redis_outages_show_in_health(tmp_path: Path) -> None:
    with nats_server() as nats, restartable_redis() as redis:
        env = {**FAST, "MF_NATS_URL": nats.url, "MF_REDIS_URL": redis.url}
        platform = Platform(tmp_path / "data", extra_env=env)
        platform.start()
        try:
            body = until_health(platform, 200, set(), "the platform is healthy")
            assert set(body["checks"]) == {"database", "nats", "event stream"}
            nats.stop()
            body = until_health(platform, 503, {"nats"}, "the NATS outage shows")
            assert body["status"] == "fail" and body["checks"]["nats"]["error"]
            nats.start()
            until_health(platform, 200, set(), "NATS is back")
            redis.stop()
            until_health(platform, 503, {"event stream"}, "the Redis outage shows")
            redis.start()
            until_health(platform, 200, set(), "Redis is back")
        finally:
            platform.stop()


def test_the_embedded_event_log_is_trimmed_behind_the_bootstrap_group(tmp_path: Path) -> None:
    """``MF_EVENTS_MAX_ENTRIES=2``: ``mf_events`` shrinks to two ``mainflux.things``
    entries once bootstrap's group (registered on that stream) has read them all."""
    env = {"MF_EVENTS_MAX_ENTRIES": "2", "MF_EVENTS_TRIM_INTERVAL": "0.1"}
    platform = Platform(tmp_path / "data", extra_env=env)
    platform.start()
    try:
        with httpx.Client(base_url=platform.url, timeout=10) as client:
            creds = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "12345678"}
            assert client.post("/users", json=creds).status_code == 201
            token = client.post("/tokens", json=creds).json()["token"]
            for i in range(6):
                answer = client.post(
                    "/things", json={"name": f"t{i}"}, headers={"Authorization": token}
                )
                assert answer.status_code == 201
        database = tmp_path / "data" / "mainflux.db"

        def things_entries() -> int:
            with sqlite3.connect(database) as conn:
                query = "SELECT count(*) FROM mf_events WHERE stream = 'mainflux.things'"
                return int(conn.execute(query).fetchone()[0])

        def groups() -> list[str]:
            with sqlite3.connect(database) as conn:
                query = "SELECT grp FROM mf_event_groups WHERE stream = 'mainflux.things'"
                return [row[0] for row in conn.execute(query)]

        assert groups(), "bootstrap follows mainflux.things in a consumer group"
        wait_until(lambda: things_entries() == 2, "mainflux.things trimmed to two entries")
    finally:
        assert platform.stop() == 0, platform.output
