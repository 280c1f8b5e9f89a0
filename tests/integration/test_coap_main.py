"""``mainflux-coap`` as a process: ``--help``, bad settings, and the message path over a
real NATS with the things service's gRPC face (answering from the shared fake)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import aiocoap
import httpx
import nats as nats_client
import pytest
from aiocoap import numbers

from mainflux.messaging.envelope import Message
from mainflux.things.grpc import start_grpc_server
from tests.coap import Observation, run_coap_client
from tests.fakes import FakeThings
from tests.servers import NatsServer, free_port, until

COAP = [sys.executable, "-c", "from mainflux.adapters.coap.main import main; main()"]


def _env(**settings: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    return {**environ, **settings}


def _run(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    # The bus is unreachable: a process that got as far as connecting would say so.
    settings = {"MF_NATS_URL": f"nats://127.0.0.1:{free_port()}", **settings}
    return subprocess.run(
        [*COAP, *args], env=_env(**settings), capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    done = _run("--help")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: mainflux-coap [--help]")
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[5:]}
    assert {
        "MF_COAP_ADAPTER_PORT": "5683",
        "MF_NATS_URL": "nats://localhost:4222",
        "MF_THINGS_AUTH_GRPC_URL": "localhost:8183",
        "MF_COAP_ADAPTER_CACHE_MAX_AGE": "1",
        "MF_COAP_ADAPTER_CLIENT_TLS": "false",
        "MF_COAP_ADAPTER_MAX_PAYLOAD": "1048576",
        "MF_COAP_ADAPTER_MAX_OBSERVERS": "10000",
        "MF_COAP_ADAPTER_MAX_OBSERVERS_PER_THING": "100",
        "MF_COAP_ADAPTER_PING_PERIOD": "120",
        "MF_COAP_ADAPTER_ACK_TIMEOUT": "2",
        "MF_COAP_ADAPTER_MAX_RETRANSMIT": "4",
        "MF_COAP_ADAPTER_LOG_LEVEL": "info",
    }.items() <= rows.items()


def test_mainflux_serve_coap_runs_the_same_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mainflux.cli", "serve", "coap", "--help"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "MF_COAP_ADAPTER_PING_PERIOD" in done.stdout


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"MF_COAP_ADAPTER_PORT": "70000"}, "MF_COAP_ADAPTER_PORT"),
        ({"MF_COAP_ADAPTER_MAX_PAYLOAD": "1MB"}, "MF_COAP_ADAPTER_MAX_PAYLOAD"),
        ({"MF_COAP_ADAPTER_MAX_OBSERVERS": "0"}, "MF_COAP_ADAPTER_MAX_OBSERVERS"),
        ({"MF_COAP_ADAPTER_PING_PERIOD": "soon"}, "MF_COAP_ADAPTER_PING_PERIOD"),
        ({"MF_COAP_ADAPTER_ACK_TIMEOUT": "0"}, "MF_COAP_ADAPTER_ACK_TIMEOUT"),
        ({"MF_COAP_ADAPTER_MAX_RETRANSMIT": "-1"}, "MF_COAP_ADAPTER_MAX_RETRANSMIT"),
        ({"MF_COAP_ADAPTER_LOG_LEVEL": "loud"}, "MF_COAP_ADAPTER_LOG_LEVEL"),
    ],
    ids=["port", "payload unit", "zero observers", "ping", "ack timeout", "retransmit", "log"],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_it(
    settings: dict[str, str], named: str
) -> None:
    done = _run(**settings)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mainflux: {named}: "), done.stderr


def test_a_busy_udp_port_stops_start_up_naming_it(nats_url: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        done = _run(
            MF_NATS_URL=nats_url, MF_COAP_ADAPTER_HOST="127.0.0.1", MF_COAP_ADAPTER_PORT=str(port)
        )
    assert done.returncode == 2
    assert done.stderr.startswith("mainflux: MF_COAP_ADAPTER_PORT: "), done.stderr
    assert "Traceback" not in done.stderr


async def test_the_adapter_process_bridges_coap_and_nats(nats: NatsServer, tmp_path: Path) -> None:
    things = FakeThings()
    channel = str(uuid.uuid4())
    thing, key = things.thing(channel)
    grpc_server, grpc_port = await start_grpc_server(things, 0, "127.0.0.1")
    port = free_port()
    log = tmp_path / "coap.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            COAP,
            env=_env(
                MF_NATS_URL=nats.url,
                MF_THINGS_AUTH_GRPC_URL=f"127.0.0.1:{grpc_port}",
                MF_COAP_ADAPTER_HOST="127.0.0.1",
                MF_COAP_ADAPTER_PORT=str(port),
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    raw = await nats_client.connect(nats.url)
    context = await aiocoap.Context.create_client_context()
    try:
        await until(
            lambda: "coap adapter listening" in log.read_text() or proc.poll() is not None,
            "the adapter listens",
            30,
        )
        assert proc.poll() is None, log.read_text()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await http.get("/version")).json()["service"] == "coap"
            assert "mainflux_coap" in (await http.get("/metrics")).text

        uri = f"coap://127.0.0.1:{port}/channels/{channel}/messages"
        sub = await raw.subscribe(f"channels.{channel}.>")
        await raw.flush()
        _, err = await run_coap_client(
            "-N", "-m", "put", "-e", "hello", f"{uri}/x?authorization={key}"
        )
        assert err.strip() == "", err
        envelope = Message.decode((await sub.next_msg(timeout=10)).data)
        assert (envelope.subtopic, envelope.publisher, envelope.protocol, envelope.payload) == (
            "x",
            thing,
            "coap",
            b"hello",
        )

        observation = Observation(context, f"{uri}?authorization={key}")
        assert (await observation.registered()).code == numbers.CONTENT
        note = Message(channel, "", "go-service", "http", b"\x01from nats")
        await raw.publish(f"channels.{channel}", note.encode())
        assert await observation.payloads(1) == [b"\x01from nats"]

        refused = Observation(context, f"{uri}?authorization=wrong")
        assert (await refused.registered()).code == numbers.FORBIDDEN
    finally:
        await context.shutdown()
        await raw.close()
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        await grpc_server.stop(None)
    assert proc.returncode == 0, log.read_text()
    assert "Traceback" not in log.read_text()
