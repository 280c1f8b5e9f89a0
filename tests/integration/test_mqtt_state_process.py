"""``kill -9`` of a ``mainflux-mqtt`` process: every QoS 1 message acknowledged to its
publisher and queued for an absent persistent session is delivered after the restart,
with the state in Redis or in an SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_mqtt_support import Client, close_clients
from tests.servers import free_port, wait_for_port

MQTT = [sys.executable, "-c", "from mainflux.adapters.mqtt.main import main; main()"]


class Process:
    """``mainflux-mqtt --standalone`` on a fixed port, started again at will."""

    def __init__(self, state_url: str) -> None:
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
        self.env.update(
            MF_MQTT_ADAPTER_MQTT_HOST="127.0.0.1",
            MF_MQTT_ADAPTER_MQTT_PORT=str(self.port),
            MF_MQTT_ADAPTER_WS_PORT="",
            MF_MQTT_ADAPTER_TLS_PORT="",
            MF_MQTT_ADAPTER_STATE_URL=state_url,
            MF_MQTT_ADAPTER_INSTANCE=f"kill-{uuid.uuid4().hex[:8]}",
        )
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*MQTT, "--standalone"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            self.kill()
            pytest.fail("mainflux-mqtt did not start")

    def kill(self) -> str:
        assert self.proc is not None
        self.proc.kill()
        out, _ = self.proc.communicate(timeout=30)
        self.proc = None
        return out


@pytest.fixture(params=["sqlite", "redis"])
def process(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Process]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    else:
        url = str(request.getfixturevalue("redis_url"))
    running = Process(url)
    running.start()
    yield running
    close_clients()
    if running.proc is not None:
        running.kill()


def test_kill_9_loses_no_acknowledged_message_queued_for_an_absent_session(
    process: Process,
) -> None:
    device = Client(process.port, "device", clean=False)
    assert device.subscribe("m/#", 1) == [1]
    device.close()
    publisher = Client(process.port)
    for i in range(50):
        publisher.publish("m/x", str(i).encode(), 1)  # returns once PUBACKed
    publisher.publish("m/retained", b"r", 1, retain=True)
    process.kill()
    close_clients()

    process.start()
    device = Client(process.port, "device", clean=False, connect=False)
    assert device.connect() == (0, True)
    got = [device.receive().payload for _ in range(51)]
    assert got == [str(i).encode() for i in range(50)] + [b"r"]
