"""Ready-to-paste commands that publish to a channel as a thing, one per protocol."""

from __future__ import annotations

import shlex
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where devices reach the platform (as seen from the user's machine)."""

    http: str  # base URL of the HTTP adapter: POST {http}/channels/<id>/messages
    ws: str  # base URL of the WebSocket adapter: {ws}/channels/<id>/messages
    mqtt_host: str
    mqtt_port: int
    coap: str  # base URL of the CoAP adapter


SAMPLE = '[{"bn":"demo:","n":"temperature","u":"Cel","v":21.5}]'


def commands(where: Endpoints, thing_id: str, key: str, channel_id: str) -> dict[str, str]:
    """``protocol -> shell command`` publishing a SenML sample as this thing."""
    path = f"channels/{channel_id}/messages"
    q = shlex.quote
    return {
        "HTTP": (
            f"curl -sSi -X POST -H {q('Content-Type: application/senml+json')} "
            f"-H {q('Authorization: ' + key)} {q(f'{where.http}/{path}')} -d {q(SAMPLE)}"
        ),
        "MQTT": (
            f"mosquitto_pub -h {q(where.mqtt_host)} -p {where.mqtt_port} -u {q(thing_id)} "
            f"-P {q(key)} -t {q(path)} -m {q(SAMPLE)}"
        ),
        "MQTT subscribe": (
            f"mosquitto_sub -h {q(where.mqtt_host)} -p {where.mqtt_port} -u {q(thing_id)} "
            f"-P {q(key)} -t {q(path)} -v"
        ),
        "WebSocket": f"echo {q(SAMPLE)} | websocat {q(f'{where.ws}/{path}?authorization={key}')}",
        "CoAP": (
            f"coap-client -m post {q(f'{where.coap}/{path}?authorization={key}')} "
            f"-t 110 -e {q(SAMPLE)}"
        ),
    }
