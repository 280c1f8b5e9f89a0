"""``kill -9`` of ``mainflux run`` (embedded defaults) loses no message it acknowledged:
neither an HTTP 202 nor an MQTT PUBACK."""

from __future__ import annotations

import uuid

import httpx
import paho.mqtt.client as mqtt

from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import _provision


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
