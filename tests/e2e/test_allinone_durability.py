"""``kill -9`` of ``mainflux run`` (embedded defaults) loses no message it acknowledged:
neither an HTTP 202 nor an MQTT PUBACK, nor one queued for an absent MQTT session."""

from __future__ import annotations

import uuid

import httpx
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import _provision
from tests.integration.test_mqtt_support import Client, close_clients


def _mqtt_publish_qos1(platform: Platform, ids: dict[str, str], payload: bytes) -> None:
    """Publish at QoS 1 and return once the PUBACK arrived."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex}")
    client.username_pw_set(ids["thing"], ids["key"])
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    try:
        info = client.publish(f"channels/{ids['channel']}/messages", payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def test_kill_9_right_after_the_acknowledgements_loses_nothing(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        ids = _provision(client)
        _mqtt_publish_qos1(platform, ids, b'[{"n":"mqtt","v":-1}]')
        for i in range(20):
            sent = client.post(
                f"/http/channels/{ids['channel']}/messages",
                content=f'[{{"n":"http","v":{i}}}]',
                headers={"Authorization": ids["key"]},
            )
            assert sent.status_code == 202
    platform.kill()

    platform.start()
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        page = client.get(
            f"/channels/{ids['channel']}/messages",
            params={"limit": 100},
            headers={"Authorization": ids["key"]},
        ).json()
    stored = sorted((m["name"], m["value"]) for m in page["messages"])
    assert stored == sorted([("mqtt", -1.0)] + [("http", float(i)) for i in range(20)])


def test_kill_9_keeps_persistent_mqtt_sessions_and_retained_messages(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        ids = _provision(client)
    topic = f"channels/{ids['channel']}/messages"
    device = Client(
        platform.mqtt_port, "device", clean=False, username=ids["thing"], password=ids["key"]
    )
    assert device.subscribe(f"{topic}/#", 1) == [1]
    device.close()
    publisher = Client(platform.mqtt_port, username=ids["thing"], password=ids["key"])
    for i in range(10):
        publisher.publish(f"{topic}/queued", str(i).encode(), 1)
    publisher.publish(f"{topic}/state", b"on", 1, retain=True)  # PUBACK: it is stored
    platform.kill()
    close_clients()

    platform.start()
    device = Client(platform.mqtt_port, "device", clean=False, connect=False)
    device.paho.username_pw_set(ids["thing"], ids["key"])
    assert device.connect() == (0, True)
    got = [device.receive() for _ in range(11)]
    assert [m.payload for m in got] == [str(i).encode() for i in range(10)] + [b"on"]
    late = Client(platform.mqtt_port, username=ids["thing"], password=ids["key"])
    late.subscribe(f"{topic}/state", 1)
    message = late.receive()
    assert (message.payload, message.retain) == (b"on", True)
    close_clients()
