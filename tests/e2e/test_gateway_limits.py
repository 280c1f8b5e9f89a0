"""The all-in-one gateway under hostile clients: the ``MF_HTTP_*`` bounds hold on its
port, management bodies are bounded by ``MF_HTTP_MAX_BODY`` while the HTTP adapter
keeps its own bound, and after every attack ``GET /version`` still answers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.servers import free_port

MAX_BODY = 4096
SETTINGS = {
    "MF_HTTP_MAX_BODY": str(MAX_BODY),
    "MF_HTTP_MAX_HEADERS": "30",
    "MF_HTTP_MAX_HEADER_BYTES": "8192",
    "MF_HTTP_REQUEST_TIMEOUT": "1",
    "MF_HTTP_IDLE_TIMEOUT": "1",
    "MF_HTTP_MAX_CONNECTIONS": "24",
}
Raw = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("gateway") / "data", extra_env=dict(SETTINGS))
    running.start()
    yield running
    assert running.stop() == 0, running.output


@pytest.fixture(scope="module")
def world(gateway: Platform) -> dict[str, str]:
    """A user with a thing connected to a channel."""
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        creds = {"email": f"{uuid.uuid4().hex}@example.com", "password": "12345678"}
        assert client.post("/users", json=creds).status_code == 201
        token = client.post("/tokens", json=creds).json()["token"]
        auth = {"Authorization": token}
        thing = client.post("/things", json={}, headers=auth).headers["location"].split("/")[-1]
        channel = client.post("/channels", json={}, headers=auth).headers["location"]
        channel = channel.split("/")[-1]
        connect = {"channel_ids": [channel], "thing_ids": [thing]}
        assert client.post("/connect", json=connect, headers=auth).status_code == 200
        key = client.get(f"/things/{thing}", headers=auth).json()["key"]
    return {"token": token, "thing": thing, "channel": channel, "key": key}


async def version_answers(gateway: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{gateway.url}/version")
    assert response.status_code == 200


async def open_raw(gateway: Platform) -> Raw:
    return await asyncio.open_connection("127.0.0.1", gateway.gateway_port)


async def until_closed(raw: Raw, timeout: float = 10.0) -> bytes:
    reader, writer = raw
    data = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), timeout):
            data += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return data


async def test_oversized_heads_are_refused(gateway: Platform) -> None:
    raw = await open_raw(gateway)
    raw[1].write(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000)
    with contextlib.suppress(ConnectionError):
        await raw[1].drain()
    answer = await until_closed(raw)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
    raw = await open_raw(gateway)
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(31))
    raw[1].write(b"GET /version HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert (await until_closed(raw)).startswith(b"HTTP/1.1 431")
    await version_answers(gateway)


async def test_a_byte_by_byte_request_is_cut(gateway: Platform) -> None:
    reader, writer = await open_raw(gateway)
    answer = None
    for byte in b"GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000:
        writer.write(bytes([byte]))
        try:
            answer = await asyncio.wait_for(reader.read(200), 0.2)
        except TimeoutError:
            continue
        except ConnectionResetError:
            answer = b""
        break
    writer.close()
    assert answer is not None, "the gateway let a byte-by-byte request go on for ever"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    await version_answers(gateway)


async def test_a_flood_of_silent_sockets_leaves_the_gateway_serving(gateway: Platform) -> None:
    flood = [await open_raw(gateway) for _ in range(72)]
    await version_answers(gateway)
    # The gateway closes every one of them: the surplus at once, the rest at the deadline.
    answers = await asyncio.gather(*(until_closed(raw) for raw in flood))
    assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers)
    assert sum(a == b"" for a in answers) >= len(flood) - 24
    await version_answers(gateway)


async def test_management_bodies_are_bounded_but_the_http_adapter_keeps_its_own(
    gateway: Platform, world: dict[str, str]
) -> None:
    big = {"name": "n", "metadata": {"blob": "x" * MAX_BODY}}
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        auth = {"Authorization": world["token"]}
        for path, body in (("/things", big), ("/channels", big), ("/users", big)):
            response = await client.post(path, json=body, headers=auth)
            assert response.status_code == 413, path
            assert response.json()["error"] == f"request body larger than {MAX_BODY} bytes"
        published = await client.post(
            f"/http/channels/{world['channel']}/messages",
            content=b"[" + b'{"n":"t","v":1},' * 1000 + b'{"n":"t","v":1}]',
            headers={"Authorization": world["key"]},
        )
        assert published.status_code == 202, "the adapter's own bound (1 MiB) applies"
        bulk = await client.post("/things/bulk", json=[{}] * 101, headers=auth)
        assert bulk.json()["error"] == "at most 100 things per request"
    await version_answers(gateway)


async def test_the_reader_checks_the_caller_then_the_query(
    gateway: Platform, world: dict[str, str]
) -> None:
    path = f"{gateway.url}/channels/{world['channel']}/messages?limit=%C2%B2"
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(path, headers={"Authorization": "wrong"})).status_code == 403
        response = await client.get(path, headers={"Authorization": world["key"]})
        assert response.status_code == 400
        assert "limit" in response.json()["error"]
    await version_answers(gateway)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MF_HTTP_MAX_CONNECTIONS", "many"),
        ("MF_HTTP_REQUEST_TIMEOUT", "0"),
        ("MF_HTTP_MAX_BODY", "1MB"),
        ("MF_THINGS_MAX_BULK", "0"),
    ],
)
def test_a_bad_limit_stops_start_up_with_one_line(tmp_path: Path, name: str, value: str) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    environ.update(
        MF_DATA_DIR=str(tmp_path),
        MF_GATEWAY_HOST="127.0.0.1",
        MF_GATEWAY_PORT=str(free_port()),
        MF_MQTT_ADAPTER_MQTT_PORT=str(free_port()),
        MF_COAP_ADAPTER_PORT=str(free_port()),
        **{name: value},
    )
    done = subprocess.run(
        [sys.executable, "-m", "mainflux.cli", "run"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"mainflux: {name}: " in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
