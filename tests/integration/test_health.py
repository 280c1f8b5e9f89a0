"""``/health`` follows what a service depends on: real NATS, PostgreSQL and Redis.

Each test runs a service as its own process on private servers, takes a dependency
away (NATS stopped, the database refusing connections, Redis stopped) and sees
``/health`` answer 503 naming it, then 200 once it is back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.servers import free_port, nats_server, restartable_redis, until, wait_for_port

FAST = {"MF_HEALTH_INTERVAL": "0.2", "MF_HEALTH_TIMEOUT": "1"}


def pg_env(prefix: str, postgres_url: str) -> dict[str, str]:
    url = urlsplit(postgres_url)
    return {
        f"{prefix}_DB_HOST": url.hostname or "127.0.0.1",
        f"{prefix}_DB_PORT": str(url.port or 5432),
        f"{prefix}_DB_USER": url.username or "",
        f"{prefix}_DB_PASS": url.password or "",
        f"{prefix}_DB": url.path.lstrip("/"),
    }


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m <module>`` with ``env``; every process is stopped after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(module: str, env: dict[str, str], port: int) -> str:
        log = tmp_path / f"{module}.log"
        with log.open("ab") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", module],
                env={**os.environ, **FAST, **env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        procs.append(proc)
        wait_for_port(port, timeout=30)
        return f"http://127.0.0.1:{port}/health"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(15)


async def health(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(url)
    return response.status_code, response.json()


async def until_health(url: str, status: int, failing: set[str], what: str) -> dict[str, Any]:
    """Wait until ``/health`` answers ``status`` with exactly ``failing`` checks failed."""
    seen: list[Any] = []

    async def reached() -> bool:
        code, body = await health(url)
        seen[:] = [code, body]
        down = {name for name, check in body.get("checks", {}).items() if check["status"] != "pass"}
        return code == status and down == failing

    await until(reached, f"{what} (last answer: {seen})", timeout=20)
    return seen[1]


async def refuse_connections(postgres_url: str, refuse: bool) -> None:
    """Make the test's database refuse new connections (and drop the open ones), or
    accept them again."""
    name = urlsplit(postgres_url).path.lstrip("/")
    admin = await asyncpg.connect(
        postgres_url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres"
    )
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not refuse).lower()}')
        if refuse:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()


async def test_the_writer_reports_a_nats_outage_and_a_database_outage(
    launch: Any, postgres_url: str
) -> None:
    port = free_port()
    with nats_server() as nats:
        url = launch(
            "mainflux.writers.main",
            {
                "MF_NATS_URL": nats.url,
                "MF_POSTGRES_WRITER_PORT": str(port),
                "MF_POSTGRES_WRITER_LOG_LEVEL": "error",
                **pg_env("MF_POSTGRES_WRITER", postgres_url),
            },
            port,
        )
        body = await until_health(url, 200, set(), "the writer is healthy")
        assert body["status"] == "pass" and body["service"] == "postgres-writer"
        assert set(body["checks"]) == {"database", "nats"}

        nats.stop()
        body = await until_health(url, 503, {"nats"}, "the NATS outage shows")
        assert body["status"] == "fail"
        assert body["checks"]["nats"]["error"], "the failure says why"
        nats.start()
        await until_health(url, 200, set(), "NATS is back")

        await refuse_connections(postgres_url, refuse=True)
        try:
            body = await until_health(url, 503, {"database"}, "the database outage shows")
            assert body["checks"]["database"]["error"]
        finally:
            await refuse_connections(postgres_url, refuse=False)
        await until_health(url, 200, set(), "the database is back")


async def test_things_reports_its_database_cache_and_event_stream(
    launch: Any, postgres_url: str
) -> None:
    with restartable_redis() as redis:
        ports = [free_port() for _ in range(3)]
        url = launch(
            "mainflux.things.main",
            {
                "MF_THINGS_HTTP_PORT": str(ports[0]),
                "MF_THINGS_AUTH_HTTP_PORT": str(ports[1]),
                "MF_THINGS_AUTH_GRPC_PORT": str(ports[2]),
                "MF_THINGS_CACHE_URL": redis.url,
                "MF_THINGS_ES_URL": redis.url,
                "MF_THINGS_SINGLE_USER_EMAIL": "admin@example.com",
                "MF_THINGS_SINGLE_USER_TOKEN": "token",
                "MF_THINGS_LOG_LEVEL": "error",
                **pg_env("MF_THINGS", postgres_url),
            },
            ports[0],
        )
        body = await until_health(url, 200, set(), "things is healthy")
        assert set(body["checks"]) == {"database", "cache", "event stream"}
        redis.stop()
        await until_health(url, 503, {"cache", "event stream"}, "the Redis outage shows")
        redis.start()
        await until_health(url, 200, set(), "Redis is back")
        await refuse_connections(postgres_url, refuse=True)
        try:
            await until_health(url, 503, {"database"}, "the database outage shows")
        finally:
            await refuse_connections(postgres_url, refuse=False)
        await until_health(url, 200, set(), "the database is back")


async def test_the_http_adapter_reports_nats_and_the_things_service(launch: Any) -> None:
    port, grpc_port = free_port(), free_port()
    with nats_server(jetstream=False) as nats:
        url = launch(
            "mainflux.adapters.http.main",
            {
                "MF_NATS_URL": nats.url,
                "MF_HTTP_ADAPTER_PORT": str(port),
                "MF_THINGS_AUTH_GRPC_URL": f"127.0.0.1:{grpc_port}",
                "MF_THINGS_ES_URL": "",
                "MF_HTTP_ADAPTER_LOG_LEVEL": "error",
            },
            port,
        )
        body = await until_health(url, 503, {"things"}, "nothing answers on the things port")
        assert body["checks"]["nats"] == {"status": "pass"}
        nats.stop()
        await until_health(url, 503, {"things", "nats"}, "both outages show")
        nats.start()
        await until_health(url, 503, {"things"}, "NATS is back")


async def test_the_mqtt_adapter_reports_on_its_websocket_port(launch: Any, redis_url: str) -> None:
    port = free_port()
    with nats_server(jetstream=False) as nats:
        url = launch(
            "mainflux.adapters.mqtt.main",
            {
                "MF_NATS_URL": nats.url,
                "MF_MQTT_ADAPTER_MQTT_PORT": str(free_port()),
                "MF_MQTT_ADAPTER_WS_PORT": str(port),
                "MF_THINGS_AUTH_GRPC_URL": f"127.0.0.1:{free_port()}",
                "MF_THINGS_ES_URL": redis_url,
                "MF_MQTT_ADAPTER_ES_URL": redis_url,
                "MF_MQTT_ADAPTER_LOG_LEVEL": "error",
            },
            port,
        )
        body = await until_health(url, 503, {"things"}, "nothing answers on the things port")
        assert body["service"] == "mqtt-adapter"
        up = {"status": "pass"}
        assert body["checks"]["nats"] == body["checks"]["event stream"] == up
        assert body["checks"]["state store"] == up  # Redis, as MF_MQTT_ADAPTER_ES_URL
        nats.stop()
        await until_health(url, 503, {"things", "nats"}, "both outages show")
        nats.start()
        await until_health(url, 503, {"things"}, "NATS is back")
        async with httpx.AsyncClient(timeout=5) as client:
            base = url.removesuffix("/health")
            metrics = await client.get(f"{base}/metrics")
            document = (await client.get(f"{base}/openapi.json")).json()
            upgrade_only = await client.get(f"{base}/mqtt")
            unknown = await client.get(f"{base}/no-such-page")
            wrong_method = await client.post(f"{base}/health", content=b"x" * 4096)
        assert metrics.status_code == 200 and "mainflux_mqtt" in metrics.text
        assert {"/mqtt", "/health", "/metrics", "/version"} <= set(document["paths"])
        assert upgrade_only.status_code == 426
        assert (unknown.status_code, wrong_method.status_code) == (404, 405)
        assert (await health(url))[0] == 503  # still serving: only the things service is down


async def test_users_reports_an_unreachable_authn_service(launch: Any, postgres_url: str) -> None:
    port = free_port()
    url = launch(
        "mainflux.users.main",
        {
            "MF_USERS_HTTP_PORT": str(port),
            "MF_AUTHN_GRPC_URL": f"127.0.0.1:{free_port()}",
            "MF_USERS_LOG_LEVEL": "error",
            **pg_env("MF_USERS", postgres_url),
        },
        port,
    )
    body = await until_health(url, 503, {"authn"}, "nothing answers on the authn port")
    assert body["checks"]["database"] == {"status": "pass"}
