"""CoAP in the all-in-one (``mainflux run``): observed messages from HTTP and MQTT,
CoAP messages stored and heard over MQTT, revocation through the things events."""

from __future__ import annotations

import asyncio
import uuid

import aiocoap
import httpx
import paho.mqtt.client as mqtt
from aiocoap import numbers

from tests.coap import Observation, coap_client, run_coap_client
from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import _mqtt_subscriber, _provision
from tests.servers import until, wait_until


def _coap_uri(platform: Platform, ids: dict[str, str], subtopic: str = "") -> str:
    suffix = f"/{subtopic}" if subtopic else ""
    return (
        f"coap://127.0.0.1:{platform.coap_port}/channels/{ids['channel']}/messages{suffix}"
        f"?authorization={ids['key']}"
    )


def _mqtt_publish(platform: Platform, ids: dict[str, str], subtopic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex}")
    client.username_pw_set(ids["thing"], ids["key"])
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    try:
        info = client.publish(f"channels/{ids['channel']}/messages/{subtopic}", payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.loop_stop()
        client.disconnect()


async def test_coap_observers_hear_http_and_mqtt_and_coap_reaches_mqtt_and_storage(
    platform: Platform,
) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        ids = _provision(http)
    context = await aiocoap.Context.create_client_context()
    libcoap = await asyncio.create_subprocess_exec(
        coap_client(),
        "-m",
        "get",
        "-s",
        "60",
        _coap_uri(platform, ids, "room"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        observation = Observation(context, _coap_uri(platform, ids, "room"))
        assert (await observation.registered()).code == numbers.CONTENT
        # coap-client's registration cannot be seen from outside: a message published
        # until it prints one tells it is listening.
        async with httpx.AsyncClient(base_url=platform.url) as client:

            async def from_http(body: bytes) -> None:
                reply = await client.post(
                    f"/http/channels/{ids['channel']}/messages/room",
                    content=body,
                    headers={"Authorization": ids["key"]},
                )
                assert reply.status_code == 202

            assert libcoap.stdout is not None
            first = asyncio.ensure_future(libcoap.stdout.readline())
            while not first.done():
                await from_http(b"ready?\n")
                await asyncio.wait({first}, timeout=0.5)
            assert first.result() == b"ready?\n"
            await from_http(b"from http\n")
        await asyncio.to_thread(_mqtt_publish, platform, ids, "room", b"from mqtt\n")
        payloads = [p for p in await observation.payloads(3) if p != b"ready?\n"]
        while len(payloads) < 2:
            payloads += [p for p in await observation.payloads(1) if p != b"ready?\n"]
        assert payloads == [b"from http\n", b"from mqtt\n"]
        lines = []
        while b"from mqtt\n" not in lines:
            lines.append(await asyncio.wait_for(libcoap.stdout.readline(), 20))
        assert [line for line in lines if line != b"ready?\n"] == [b"from http\n", b"from mqtt\n"]
    finally:
        libcoap.kill()
        await libcoap.wait()

    sub, received = await asyncio.to_thread(_mqtt_subscriber, platform, ids)
    try:
        senml = '[{"bn":"dev:","n":"temp","u":"C","v":7}]'
        _, err = await run_coap_client("-m", "post", "-e", senml, _coap_uri(platform, ids, "lab"))
        assert err.strip() == "", err
        await until(lambda: senml.encode() in received, "the MQTT subscriber got the message")
    finally:
        sub.loop_stop()
        sub.disconnect()

    def stored() -> list[dict]:
        page = httpx.get(
            f"{platform.url}/channels/{ids['channel']}/messages",
            params={"subtopic": "lab"},
            headers={"Authorization": ids["key"]},
            timeout=10,
        )
        assert page.status_code == 200
        return page.json()["messages"]

    await asyncio.to_thread(wait_until, lambda: len(stored()) == 1, "the CoAP message stored")
    record = stored()[0]
    assert (record["publisher"], record["protocol"], record["value"]) == (ids["thing"], "coap", 7)

    # The owner disconnects the thing: the observation ends with 4.03.
    async with httpx.AsyncClient(base_url=platform.url, timeout=10) as http:
        gone = await http.delete(
            f"/channels/{ids['channel']}/things/{ids['thing']}",
            headers={"Authorization": ids["token"]},
        )
        assert gone.status_code == 204
    [ended] = await observation.next()
    assert ended.code == numbers.FORBIDDEN
    await context.shutdown()

    assert platform.stop() == 0, platform.output[-4000:]
    assert f"coap://127.0.0.1:{platform.coap_port}/channels/<id>/messages" in platform.output
    assert "Traceback" not in platform.output
