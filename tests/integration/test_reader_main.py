"""``mainflux-postgres-reader`` as a process: without ``MF_THINGS_URL`` it checks thing
keys only, so a wrong key is 403 (not a 503 from an owner check nobody configured); its
port has the ``MF_HTTP_*`` bounds of every service."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import make_url

from mainflux.core.db import create_engine
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.grpc import start_grpc_server
from mainflux.things.main import build_service
from mainflux.things.models import Channel, Thing
from mainflux.things.singleuser import SingleUserAuth
from tests.integration.test_authn_main import clean_env
from tests.servers import free_port, wait_for_port

TOKEN = "owner-token"
KEY = "reader-device-key"


@dataclass
class Things:
    grpc_url: str
    channel: str


@pytest.fixture
async def things(sqlite_url: str) -> AsyncIterator[Things]:
    engine = create_engine(sqlite_url)
    service = await build_service(
        engine, SingleUserAuth("u@example.com", TOKEN), None, InMemoryAccessCache()
    )
    (thing,) = await service.create_things(TOKEN, [Thing(key=KEY)])
    (channel,) = await service.create_channels(TOKEN, [Channel()])
    await service.connect(TOKEN, [channel.id], [thing.id])
    server, port = await start_grpc_server(service, 0, "127.0.0.1")
    yield Things(f"127.0.0.1:{port}", channel.id)
    await server.stop(None)
    await engine.dispose()


def reader_env(db_url: str, port: int, grpc_url: str) -> dict[str, str]:
    parsed = make_url(db_url)
    return clean_env(
        MF_POSTGRES_READER_PORT=str(port),
        MF_POSTGRES_READER_DB_HOST=parsed.host or "localhost",
        MF_POSTGRES_READER_DB_PORT=str(parsed.port or 5432),
        MF_POSTGRES_READER_DB_USER=parsed.username or "",
        MF_POSTGRES_READER_DB_PASS=parsed.password or "",
        MF_POSTGRES_READER_DB=parsed.database or "",
        MF_THINGS_AUTH_GRPC_URL=grpc_url,
        MF_HTTP_MAX_HEADERS="30",
    )


async def test_without_things_url_a_wrong_key_is_403(postgres_url: str, things: Things) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mainflux.readers.main import main; main()"],
        env=reader_env(postgres_url, port, things.grpc_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await asyncio.to_thread(wait_for_port, port, 30)
        path = f"http://127.0.0.1:{port}/channels/{things.channel}/messages"
        async with httpx.AsyncClient(timeout=10) as client:
            wrong = await client.get(path, headers={"Authorization": "wrong-key"})
            assert wrong.status_code == 403, wrong.text
            assert wrong.json()["error"]
            token = await client.get(path, headers={"Authorization": TOKEN})
            assert token.status_code == 403, "no owner check without MF_THINGS_URL"
            right = await client.get(path, headers={"Authorization": KEY})
            assert right.status_code == 200, right.text
            assert right.json()["total"] == 0
            assert (await client.get(f"http://127.0.0.1:{port}/version")).status_code == 200
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            fields = b"".join(b"X-F%d: v\r\n" % i for i in range(31))
            writer.write(b"GET /version HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 431"), answer
            assert (await client.get(f"http://127.0.0.1:{port}/version")).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert proc.returncode == 0, output


def test_a_message_table_that_cannot_be_adopted_stops_the_reader_in_one_line(
    postgres_url: str,
) -> None:
    """Retrying cannot fix a foreign ``messages`` table: exit 2 at once, one line."""

    async def foreign_table() -> None:
        engine = create_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE messages (id text PRIMARY KEY)")
        await engine.dispose()

    asyncio.run(foreign_table())
    done = subprocess.run(
        [sys.executable, "-c", "from mainflux.readers.main import main; main()"],
        env=reader_env(postgres_url, free_port(), "127.0.0.1:1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert any("table(s) messages but no record" in line for line in lines), done.stderr
