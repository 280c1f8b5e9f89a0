"""Revocation across MQTT adapter instances, deployed as microservices: one
``mainflux-things`` (PostgreSQL, events and cache in Redis) and two ``mainflux-mqtt``
on one NATS. Neither adapter sees the owner's API call: each learns of it from the
``mainflux.things`` stream, and each must apply it to its own clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.e2e.isolation import (
    Owner,
    device,
    on_channel,
    park,
    received_until,
    topic,
    until_silent,
)
from tests.integration.test_mqtt_support import WAIT, close_clients
from tests.servers import NatsServer, free_port, wait_for_port

TOKEN = "instances-owner-token"


@dataclass
class Service:
    """A service process whose output goes to a file (read when it stops)."""

    module: str
    env: dict[str, str]
    ports: list[int]
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", f"from {self.module} import main; main()"],
                env={**base, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        for port in self.ports:
            wait_for_port(port, timeout=30)

    def stop(self) -> str:
        """SIGTERM the process; return everything it printed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        output = self.log.read_text()
        self.log.unlink()
        return output


@dataclass
class Deployment:
    things_url: str
    mqtt_ports: tuple[int, int]


@pytest.fixture
def deployment(postgres_url: str, redis_url: str, nats: NatsServer) -> Iterator[Deployment]:
    db = make_url(postgres_url)
    redis_address = redis_url.removeprefix("redis://").split("/")[0]
    http, grpc = free_port(), free_port()
    things = Service(
        "mainflux.things.main",
        {
            "MF_THINGS_DB_HOST": db.host or "",
            "MF_THINGS_DB_PORT": str(db.port),
            "MF_THINGS_DB_USER": db.username or "",
            "MF_THINGS_DB_PASS": db.password or "",
            "MF_THINGS_DB": db.database or "",
            "MF_THINGS_CACHE_URL": redis_address,
            "MF_THINGS_ES_URL": redis_address,
            "MF_THINGS_SINGLE_USER_EMAIL": "owner@example.com",
            "MF_THINGS_SINGLE_USER_TOKEN": TOKEN,
            "MF_THINGS_HTTP_PORT": str(http),
            "MF_THINGS_AUTH_HTTP_PORT": str(free_port()),
            "MF_THINGS_AUTH_GRPC_PORT": str(grpc),
        },
        [http, grpc],
    )
    adapters = []
    for name in ("mqtt-a", "mqtt-b"):
        port = free_port()
        adapters.append(
            Service(
                "mainflux.adapters.mqtt.main",
                {
                    "MF_MQTT_ADAPTER_MQTT_HOST": "127.0.0.1",
                    "MF_MQTT_ADAPTER_MQTT_PORT": str(port),
                    "MF_MQTT_ADAPTER_WS_HOST": "127.0.0.1",
                    "MF_MQTT_ADAPTER_WS_PORT": str(free_port()),
                    "MF_MQTT_ADAPTER_INSTANCE": name,
                    "MF_MQTT_ADAPTER_ES_URL": redis_address,
                    "MF_THINGS_ES_URL": redis_address,
                    "MF_THINGS_AUTH_GRPC_URL": f"127.0.0.1:{grpc}",
                    "MF_NATS_URL": nats.url,
                },
                [port],
            )
        )
    started: list[Service] = []
    try:
        for service in (things, *adapters):
            service.start()
            started.append(service)
        yield Deployment(f"http://127.0.0.1:{http}", (adapters[0].ports[0], adapters[1].ports[0]))
    finally:
        close_clients()
        outputs = [service.stop() for service in reversed(started)]
    for output in outputs:
        assert "Traceback" not in output and " ERROR " not in output, output


def test_a_revocation_reaches_every_instance(deployment: Deployment) -> None:
    owner = Owner(deployment.things_url, TOKEN)
    port_a, port_b = deployment.mqtt_ports
    revoked, kept = owner.channel(), owner.channel()
    thing, publisher = owner.thing(revoked, kept), owner.thing(revoked, kept)
    doomed = owner.thing(kept)

    away = "gateway-7"
    park(port_b, thing, 4, away, topic(revoked, "#"), topic(kept, "#"))
    on_a, on_b = device(port_a, thing, 4), device(port_b, thing, 5)
    for subscriber in (on_a, on_b):
        assert subscriber.subscribe(topic(revoked, "#"), 1) == [1]
        assert subscriber.subscribe(topic(kept, "#"), 1) == [1]
    sender = device(port_a, publisher)  # its messages reach B through NATS
    sender.publish(topic(revoked), b"before", 1)
    for subscriber in (on_a, on_b):
        assert received_until(subscriber, b"before") == [(topic(revoked), b"before")]

    owner.disconnect(revoked, thing.id)
    until_silent(
        [on_a, on_b],
        revoked,
        lambda probe: sender.publish(topic(revoked), probe, 1),
        lambda marker: sender.publish(topic(kept), marker, 1),
    )
    sender.publish(topic(kept), b"last", 1)
    back = device(port_b, thing, 4, away, persistent=True, connect=False)
    assert back.connect()[:2] == (0, True)
    got = received_until(back, b"last")
    assert on_channel(got, revoked) == [] and (topic(kept), b"last") in got

    victims = [device(port_a, doomed, 5), device(port_b, doomed, 4), device(port_b, doomed, 5)]
    owner.remove_thing(doomed.id)
    for victim in victims:
        assert victim.disconnected.wait(15)
    assert victims[0].disconnect_reason(WAIT) == 0x87  # type: ignore[union-attr]
    assert victims[2].disconnect_reason(WAIT) == 0x87  # type: ignore[union-attr]
    assert not on_a.disconnected.is_set() and not on_b.disconnected.is_set()
    owner.close()
