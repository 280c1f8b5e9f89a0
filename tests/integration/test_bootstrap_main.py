"""``mainflux-bootstrap`` as a process: bad settings are one line, ``--help`` lists every
variable, and a real run next to authn (gRPC) and things (HTTP, events on Redis)
follows the things service: a thing removed there takes its config away."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import make_url

from mainflux.authn.grpc import start_grpc_server as start_authn
from mainflux.authn.main import build_service as build_authn
from mainflux.core.db import create_engine
from mainflux.events.redis import RedisEventStream
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service as build_things
from tests.integration.test_authn_main import SECRET, clean_env
from tests.servers import free_port, serving, until, wait_for_port

START = [sys.executable, "-m", "mainflux.bootstrap.main"]
JSON = {"Content-Type": "application/json"}


def _fails(env: dict[str, str]) -> str:
    done = subprocess.run(START, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MF_BOOTSTRAP_PORT", "http"),
        ("MF_BOOTSTRAP_ENCRYPT_KEY", "not-hex"),
        ("MF_BOOTSTRAP_ENCRYPT_KEY", "00" * 15),
        ("MF_SDK_BASE_URL", "ftp://things"),
        ("MF_BOOTSTRAP_EVENT_RETRIES", "-1"),
        ("MF_BOOTSTRAP_MAX_CHANNELS", "0"),
        ("MF_BOOTSTRAP_THINGS_TIMEOUT", "0"),
        ("MF_BOOTSTRAP_LOG_LEVEL", "loud"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(name: str, value: str) -> None:
    line = _fails(clean_env(**{name: value}))
    assert name in line
    assert value not in line or name != "MF_BOOTSTRAP_ENCRYPT_KEY", "the key is never printed"


def test_unreachable_redis_is_one_line(postgres_url: str) -> None:
    line = _fails(clean_env(MF_BOOTSTRAP_PORT="0", MF_BOOTSTRAP_ES_URL=f"127.0.0.1:{free_port()}"))
    assert "MF_BOOTSTRAP_ES_URL" in line


def test_help_lists_every_variable_and_starts_nothing() -> None:
    done = subprocess.run(
        [*START, "--help"], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: mainflux-bootstrap [--help]")
    for name, default in [
        ("MF_BOOTSTRAP_PORT", "8202"),
        ("MF_BOOTSTRAP_DB", "bootstrap"),
        ("MF_BOOTSTRAP_ENCRYPT_KEY", "12345678910111213141516171819202"),
        ("MF_SDK_BASE_URL", "http://localhost:8182"),
        ("MF_THINGS_ES_URL", "localhost:6379"),
        ("MF_BOOTSTRAP_ES_URL", "localhost:6379"),
        ("MF_BOOTSTRAP_EVENT_CONSUMER", "bootstrap"),
        ("MF_AUTHN_GRPC_URL", "localhost:8181"),
    ]:
        line = next(line for line in done.stdout.splitlines() if f" {name} " in line)
        assert default in line, name
    serve = subprocess.run(
        [sys.executable, "-m", "mainflux.cli", "serve", "bootstrap", "--help"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 0 and serve.stdout == done.stdout


@dataclass
class Neighbours:
    token: str
    authn_url: str
    things_url: str


@pytest.fixture
async def neighbours(sqlite_url: str, redis_url: str) -> AsyncIterator[Neighbours]:
    """authn over gRPC and things over HTTP, its events on Redis, in this process."""
    engine = create_engine(sqlite_url)
    authn = await build_authn(engine, SECRET)
    server = await start_authn(authn, "127.0.0.1", 0)
    events = RedisEventStream(redis_url)
    things = await build_things(engine, authn, events, InMemoryAccessCache())
    token = await authn.issue(f"{uuid.uuid4()}@example.com", 0)
    async with serving(create_things_app(things)) as port:
        yield Neighbours(token, f"127.0.0.1:{server.port}", f"http://127.0.0.1:{port}")
    await server.stop(None)
    await events.close()
    await engine.dispose()


async def test_a_real_run_follows_the_things_service(
    postgres_url: str, redis_url: str, neighbours: Neighbours
) -> None:
    db = make_url(postgres_url)
    port = free_port()
    redis_host = redis_url.removeprefix("redis://").rstrip("/")
    env = clean_env(
        MF_BOOTSTRAP_PORT=str(port),
        MF_BOOTSTRAP_DB_HOST=db.host or "localhost",
        MF_BOOTSTRAP_DB_PORT=str(db.port or 5432),
        MF_BOOTSTRAP_DB_USER=db.username or "",
        MF_BOOTSTRAP_DB_PASS=db.password or "",
        MF_BOOTSTRAP_DB=db.database or "",
        MF_BOOTSTRAP_ES_URL=redis_host,
        MF_THINGS_ES_URL=redis_host,
        MF_BOOTSTRAP_EVENT_CONSUMER=f"c-{uuid.uuid4()}",
        MF_AUTHN_GRPC_URL=neighbours.authn_url,
        MF_SDK_BASE_URL=neighbours.things_url,
        MF_BOOTSTRAP_LOG_LEVEL="error",
    )
    proc = subprocess.Popen(START, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    h = {"Authorization": neighbours.token, **JSON}
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as bs,
            httpx.AsyncClient(base_url=neighbours.things_url) as things,
        ):
            made = await things.post("/channels", json={"name": "c"}, headers=h)
            channel = made.headers["location"].rsplit("/", 1)[1]
            body = {"external_id": str(uuid.uuid4()), "external_key": "k", "channels": [channel]}
            added = await bs.post("/things/configs", json=body, headers=h)
            assert added.status_code == 201, added.text
            thing = added.headers["location"].rsplit("/", 1)[1]
            state = await bs.put(f"/things/state/{thing}", json={"state": 1}, headers=h)
            assert state.status_code == 200
            listed = await things.get(f"/channels/{channel}/things", headers=h)
            assert [t["id"] for t in listed.json()["things"]] == [thing]
            assert (
                await bs.get("/things/configs", headers={"Authorization": "bad"})
            ).status_code == 403
            assert (await things.delete(f"/things/{thing}", headers=h)).status_code == 204

            async def config_gone() -> bool:
                response = await bs.get(f"/things/configs/{thing}", headers=h)
                return response.status_code == 404

            await until(config_gone, "the config followed the thing's removal", timeout=15)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
