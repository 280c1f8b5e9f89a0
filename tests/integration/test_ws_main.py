"""``mainflux-ws`` as processes: settings, and revocations reaching every instance.

Two adapter processes share a real NATS and tail the things events in a real Redis,
next to a real ``mainflux-things`` process (PostgreSQL, Redis). The owner's change goes
to the things service only; each adapter learns of it from the event stream."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.servers import free_port, wait_for_port

TOKEN = "ws-owner-token"
WS = [sys.executable, "-c", "from mainflux.adapters.ws.main import main; main()"]
THINGS = [sys.executable, "-c", "from mainflux.things.main import main; main()"]


def _env(**settings: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    return {**base, **settings}


def _run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    # The bus is unreachable: a process that got as far as connecting would say so.
    settings = {"MF_NATS_URL": f"nats://127.0.0.1:{free_port()}", **settings}
    return subprocess.run(
        [*WS, *args], env=_env(**settings), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"MF_WS_ADAPTER_MAX_CONNECTIONS": "0"}, "MF_WS_ADAPTER_MAX_CONNECTIONS"),
        ({"MF_WS_ADAPTER_MAX_CONNECTIONS": "many"}, "MF_WS_ADAPTER_MAX_CONNECTIONS"),
        (
            {"MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING": "-1"},
            "MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING",
        ),
        ({"MF_WS_MAX_FRAME": "1MB"}, "MF_WS_MAX_FRAME"),
        ({"MF_WS_MAX_FRAME": "0"}, "MF_WS_MAX_FRAME"),
        ({"MF_WS_ADAPTER_CACHE_MAX_AGE": "nan"}, "MF_WS_ADAPTER_CACHE_MAX_AGE"),
        ({"MF_WS_ADAPTER_CLIENT_TLS": "sometimes"}, "MF_WS_ADAPTER_CLIENT_TLS"),
        ({"MF_THINGS_AUTH_GRPC_TIMEOUT": "0"}, "MF_THINGS_AUTH_GRPC_TIMEOUT"),
        ({"MF_THINGS_ES_URL": "localhost:6379", "MF_THINGS_ES_DB": "first"}, "MF_THINGS_ES_DB"),
        ({"MF_WS_ADAPTER_PORT": "70000"}, "MF_WS_ADAPTER_PORT"),
        ({"MF_WS_ADAPTER_LOG_LEVEL": "loud"}, "MF_WS_ADAPTER_LOG_LEVEL"),
    ],
    ids=[
        "zero cap",
        "cap not a number",
        "negative per-thing cap",
        "frame with a unit",
        "zero frame",
        "nan cache age",
        "client tls not a boolean",
        "zero grpc timeout",
        "events db not a number",
        "port too big",
        "log level",
    ],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_it(
    settings: dict[str, str], named: str
) -> None:
    done = _run(**settings)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mainflux: {named}: "), done.stderr


def test_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    done = _run("--help")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: mainflux-ws [--help]")
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[5:]}
    assert rows == {
        "MF_WS_ADAPTER_HOST": "0.0.0.0",
        "MF_WS_ADAPTER_PORT": "8186",
        "MF_NATS_URL": "nats://localhost:4222",
        "MF_THINGS_AUTH_GRPC_URL": "localhost:8183",
        "MF_THINGS_AUTH_GRPC_TIMEOUT": "1",
        "MF_THINGS_AUTH_DEADLINE": "30",
        "MF_THINGS_ES_URL": "(unset)",
        "MF_THINGS_ES_PASS": "(unset)",
        "MF_THINGS_ES_DB": "0",
        "MF_WS_ADAPTER_CACHE_MAX_AGE": "1",
        "MF_WS_ADAPTER_CLIENT_TLS": "false",
        "MF_WS_ADAPTER_CA_CERTS": "(system",
        "MF_WS_ADAPTER_MAX_CONNECTIONS": "10000",
        "MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING": "100",
        "MF_WS_ADAPTER_LOG_LEVEL": "info",
        "MF_WS_ADAPTER_SERVER_CERT": "(unset)",
        "MF_WS_ADAPTER_SERVER_KEY": "(unset)",
        "MF_HTTP_MAX_HEADER_BYTES": "32768",
        "MF_HTTP_MAX_HEADERS": "100",
        "MF_HTTP_REQUEST_TIMEOUT": "30",
        "MF_HTTP_IDLE_TIMEOUT": "5",
        "MF_HTTP_MAX_CONNECTIONS": "10000",
        "MF_WS_MAX_FRAME": "1048576",
    }


def test_an_unknown_argument_exits_2_with_one_line() -> None:
    done = _run("--port", "1")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mainflux-ws: unexpected argument '--port' (see mainflux-ws --help)"
    )


@dataclass
class Process:
    proc: subprocess.Popen[str]
    log: Path

    def stop(self) -> str:
        """SIGTERM, wait, and return what the process wrote."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.log.read_text()


def _start(command: list[str], env: dict[str, str], log: Path) -> Process:
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    return Process(proc, log)


@dataclass
class Deployment:
    things_url: str
    ws_ports: tuple[int, int]
    processes: dict[str, Process]


@pytest.fixture
def deployment(
    postgres_url: str, redis_url: str, nats_url: str, tmp_path: Path
) -> Iterator[Deployment]:
    db = make_url(postgres_url)
    redis_address = redis_url.removeprefix("redis://").split("/")[0]
    http, auth_http, grpc = free_port(), free_port(), free_port()
    things_env = _env(
        MF_THINGS_DB_HOST=db.host or "",
        MF_THINGS_DB_PORT=str(db.port),
        MF_THINGS_DB_USER=db.username or "",
        MF_THINGS_DB_PASS=db.password or "",
        MF_THINGS_DB=db.database or "",
        MF_THINGS_CACHE_URL=redis_address,
        MF_THINGS_ES_URL=redis_address,
        MF_THINGS_SINGLE_USER_EMAIL="owner@example.com",
        MF_THINGS_SINGLE_USER_TOKEN=TOKEN,
        MF_THINGS_HTTP_PORT=str(http),
        MF_THINGS_AUTH_HTTP_PORT=str(auth_http),
        MF_THINGS_AUTH_GRPC_PORT=str(grpc),
        MF_THINGS_LOG_LEVEL="warn",
    )
    ports = (free_port(), free_port())
    processes = {"things": _start(THINGS, things_env, tmp_path / "things.log")}
    for name, port, extra in (
        ("ws-a", ports[0], {}),
        ("ws-b", ports[1], {"MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING": "1"}),
    ):
        env = _env(
            MF_WS_ADAPTER_HOST="127.0.0.1",
            MF_WS_ADAPTER_PORT=str(port),
            MF_NATS_URL=nats_url,
            MF_THINGS_AUTH_GRPC_URL=f"127.0.0.1:{grpc}",
            MF_THINGS_ES_URL=redis_address,
            MF_WS_ADAPTER_LOG_LEVEL="info",
            **extra,
        )
        processes[name] = _start(WS, env, tmp_path / f"{name}.log")
    try:
        for port in (http, grpc, *ports):
            wait_for_port(port, timeout=30)
        yield Deployment(f"http://127.0.0.1:{http}", ports, processes)
    finally:
        for process in processes.values():
            process.stop()


@dataclass
class Provisioned:
    thing: str
    key: str
    channel: str


async def provision(things: httpx.AsyncClient) -> Provisioned:
    created = await things.post("/things", json={"name": "device"})
    assert created.status_code == 201, created.text
    thing = created.headers["location"].rsplit("/", 1)[1]
    key = (await things.get(f"/things/{thing}")).json()["key"]
    created = await things.post("/channels", json={"name": "room"})
    channel = created.headers["location"].rsplit("/", 1)[1]
    assert (await things.put(f"/channels/{channel}/things/{thing}")).status_code == 200
    return Provisioned(thing, key, channel)


def url(port: int, channel: str, subtopic: str = "") -> str:
    return f"ws://127.0.0.1:{port}/channels/{channel}/messages{subtopic}"


async def closed_with_1008(ws: ClientConnection) -> None:
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1008, (ws.close_code, ws.close_reason)


@pytest.fixture
async def things(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=deployment.things_url, headers={"Authorization": TOKEN}, timeout=10
    ) as client:
        yield client


async def test_every_instance_closes_what_the_owner_revokes(
    deployment: Deployment, things: httpx.AsyncClient
) -> None:
    port_a, port_b = deployment.ws_ports
    disconnected = await provision(things)
    rekeyed = await provision(things)
    headers = {"Authorization": disconnected.key}
    async with (
        connect(url(port_a, disconnected.channel), additional_headers=headers) as on_a,
        connect(url(port_b, disconnected.channel), additional_headers=headers) as on_b,
        connect(
            url(port_a, rekeyed.channel, "/r"), additional_headers={"Authorization": rekeyed.key}
        ) as rekeyed_a,
        connect(
            url(port_b, rekeyed.channel, "/r"), additional_headers={"Authorization": rekeyed.key}
        ) as rekeyed_b,
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url(port_b, disconnected.channel), additional_headers=headers):
                pass
        assert refused.value.response.status_code == 429, "instance b's per-thing cap is 1"

        await on_a.send("across the bus")
        assert await asyncio.wait_for(on_b.recv(), 10) == "across the bus"

        path = f"/channels/{disconnected.channel}/things/{disconnected.thing}"
        assert (await things.delete(path)).status_code == 204
        await closed_with_1008(on_a)
        await closed_with_1008(on_b)

        rename = await things.put(f"/things/{rekeyed.thing}", json={"name": "renamed"})
        assert rename.status_code == 200
        new_key = {"key": f"rotated-{uuid.uuid4()}"}
        assert (await things.patch(f"/things/{rekeyed.thing}/key", json=new_key)).status_code == 200
        await closed_with_1008(rekeyed_a)
        await closed_with_1008(rekeyed_b)

    logs = {name: process.stop() for name, process in deployment.processes.items()}
    for name in ("ws-a", "ws-b"):
        assert "Traceback" not in logs[name] and " ERROR " not in logs[name], logs[name]
    assert "429 too many connections for the thing" in logs["ws-b"]
