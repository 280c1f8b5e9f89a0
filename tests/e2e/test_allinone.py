"""``mainflux run`` end to end: start-up errors, the gateway's APIs with real clients,
and a restart that keeps every user, thing, channel, connection, message and event."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from websockets.asyncio.client import connect as ws_connect

from tests.e2e.conftest import Platform
from tests.servers import free_port, wait_until

SENML = b'[{"bn":"dev:","n":"temp","u":"C","v":21.5}]'


def _run_briefly(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "mainflux.cli", "run"],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MF_GATEWAY_PORT": "abc"}, "MF_GATEWAY_PORT: expected an integer"),
        ({"MF_GATEWAY_PORT": "70000"}, "MF_GATEWAY_PORT: must be at most 65535"),
        ({"MF_DB_URL": "mysql://localhost/x"}, "MF_DB_URL: expected a"),
        ({"MF_NATS_URL": "localhost:4222"}, "MF_NATS_URL: expected a"),
        ({"MF_LOG_LEVEL": "loud"}, "MF_LOG_LEVEL: expected debug"),
        ({"MF_COAP_ADAPTER_MAX_OBSERVERS": "0"}, "MF_COAP_ADAPTER_MAX_OBSERVERS: must be"),
    ],
    ids=[
        "port-not-a-number",
        "port-out-of-range",
        "db-url-scheme",
        "nats-url",
        "log-level",
        "coap-observers",
    ],
)
def test_a_bad_setting_stops_startup_with_one_line(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    result = _run_briefly({"MF_DATA_DIR": str(tmp_path), **env})
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_busy_port_stops_startup_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_briefly(
            {
                "MF_DATA_DIR": str(tmp_path),
                "MF_GATEWAY_PORT": str(port),
                "MF_GATEWAY_HOST": "127.0.0.1",
            }
        )
    assert result.returncode == 2
    assert "MF_GATEWAY_PORT: cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_mqtt_port_stops_startup_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = _run_briefly(
            {
                "MF_DATA_DIR": str(tmp_path),
                "MF_GATEWAY_PORT": str(free_port()),
                "MF_GATEWAY_HOST": "127.0.0.1",
                "MF_MQTT_ADAPTER_MQTT_PORT": str(busy.getsockname()[1]),
            }
        )
    assert result.returncode == 2
    assert "MF_MQTT_ADAPTER_MQTT_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def _provision(client: httpx.Client) -> dict[str, str]:
    """A user with one thing connected to one channel; returns the ids, key and token."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    creds = {"email": email, "password": "12345678"}
    assert client.post("/users", json=creds).status_code == 201
    assert client.post("/users", json=creds).status_code == 409
    token = client.post("/tokens", json=creds).json()["token"]
    auth = {"Authorization": token}
    created = client.post("/things", json={"name": "sensor"}, headers=auth)
    assert created.status_code == 201
    thing_id = created.headers["location"].rsplit("/", 1)[1]
    key = client.get(f"/things/{thing_id}", headers=auth).json()["key"]
    created = client.post("/channels", json={"name": "room"}, headers=auth)
    channel_id = created.headers["location"].rsplit("/", 1)[1]
    connect = {"channel_ids": [channel_id], "thing_ids": [thing_id]}
    assert client.post("/connect", json=connect, headers=auth).status_code == 200
    return {"email": email, "token": token, "thing": thing_id, "key": key, "channel": channel_id}


def _mqtt_subscriber(platform: Platform, ids: dict[str, str]) -> tuple[mqtt.Client, list[bytes]]:
    """An MQTT client subscribed to the channel (its SUBACK received); what it gets is listed."""
    received: list[bytes] = []
    granted: list[ReasonCode] = []
    subscribed = threading.Event()

    def on_subscribe(
        _c: mqtt.Client, _u: object, _mid: int, codes: list[ReasonCode], _p: Properties | None
    ) -> None:
        granted.extend(codes)
        subscribed.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex}")
    client.username_pw_set(ids["thing"], ids["key"])
    client.on_message = lambda _c, _u, msg: received.append(msg.payload)
    client.on_subscribe = on_subscribe
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    result, _ = client.subscribe(f"channels/{ids['channel']}/messages/#", qos=1)
    assert result == mqtt.MQTT_ERR_SUCCESS
    assert subscribed.wait(10), "no SUBACK within 10s"
    assert [code.is_failure for code in granted] == [False], granted
    return client, received


def test_every_protocol_meets_on_one_gateway(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        assert client.get("/version").json()["service"] == "things"
        assert client.get("/nowhere").status_code == 404
        ids = _provision(client)
        sub, received = _mqtt_subscriber(platform, ids)
        try:
            ws_url = (
                f"ws://127.0.0.1:{platform.gateway_port}/ws/channels/{ids['channel']}"
                f"/messages/room?authorization={ids['key']}"
            )

            async def publish_while_listening() -> bytes | str:
                # The adapter subscribes before it accepts: once open, the socket listens.
                async with ws_connect(ws_url, open_timeout=10) as ws:
                    async with httpx.AsyncClient(base_url=platform.url) as http:
                        reply = await http.post(
                            f"/http/channels/{ids['channel']}/messages/room",
                            content=SENML,
                            headers={"Authorization": ids["key"]},
                        )
                    assert reply.status_code == 202
                    return await asyncio.wait_for(ws.recv(), 10)

            assert asyncio.run(publish_while_listening()) in (SENML, SENML.decode())
            wait_until(lambda: SENML in received, "the MQTT subscriber got the message")
        finally:
            sub.loop_stop()
            sub.disconnect()

        bad = client.post(
            f"/http/channels/{ids['channel']}/messages",
            content=SENML,
            headers={"Authorization": "wrong"},
        )
        assert bad.status_code == 403

        def stored() -> list[dict]:
            page = client.get(
                f"/channels/{ids['channel']}/messages", headers={"Authorization": ids["key"]}
            )
            assert page.status_code == 200
            return page.json()["messages"]

        wait_until(lambda: len(stored()) == 1, "the message was stored")
        record = stored()[0]
        assert (record["name"], record["value"], record["unit"]) == ("dev:temp", 21.5, "C")
        assert (record["publisher"], record["protocol"]) == (ids["thing"], "http")


def test_a_restart_keeps_everything(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        ids = _provision(client)
        sent = client.post(
            f"/http/channels/{ids['channel']}/messages",
            content=SENML,
            headers={"Authorization": ids["key"]},
        )
        assert sent.status_code == 202
    assert platform.stop() == 0, platform.output[-4000:]
    assert "Traceback" not in platform.output

    platform.start()
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        auth = {"Authorization": ids["token"]}  # issued before the restart
        assert client.get("/users", headers=auth).json()["email"] == ids["email"]
        login = {"email": ids["email"], "password": "12345678"}
        assert client.post("/tokens", json=login).status_code == 201
        assert client.get(f"/things/{ids['thing']}", headers=auth).json()["key"] == ids["key"]
        things = client.get(f"/channels/{ids['channel']}/things", headers=auth).json()
        assert [t["id"] for t in things["things"]] == [ids["thing"]]
        page = client.get(
            f"/channels/{ids['channel']}/messages", headers={"Authorization": ids["key"]}
        ).json()
        assert page["total"] == 1

    printed = subprocess.run(
        [sys.executable, "-m", "mainflux.cli", "events", "mainflux.things"],
        env={**platform.env()},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert printed.returncode == 0, printed.stderr
    operations = [
        json.loads(line.split("operation=", 1)[1].split(" ", 1)[0].replace("'", '"'))
        for line in printed.stdout.splitlines()
    ]
    assert operations == ["thing.create", "channel.create", "thing.connect"]
