"""``mainflux-mqtt``: the MQTT adapter service (``--standalone``: a plain broker)."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys

from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter, build_standalone
from mainflux.adapters.mqtt.settings import CommandSettings, MqttSettings
from mainflux.core.runner import StartupError, run, tune_garbage_collector
from mainflux.core.settings import from_command_line

LOG_LEVEL = "MF_MQTT_ADAPTER_LOG_LEVEL"

log = logging.getLogger("mainflux.mqtt")


SUMMARY = (
    "The MQTT adapter: things connect with their id and key and publish and subscribe on\n"
    "channels/<id>/messages[/<subtopic>], bridged to NATS. --standalone runs a plain\n"
    "MQTT broker instead (no authentication, no bus, no events; only the listener and\n"
    "MF_MQTT_ADAPTER_* bound variables apply)."
)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``mainflux-mqtt``: ``--help`` lists every variable it reads."""
    args = list(sys.argv[1:] if argv is None else argv)
    standalone = "--standalone" in args
    rest = [a for a in args if a != "--standalone"]
    settings = from_command_line(CommandSettings, "mainflux-mqtt [--standalone]", SUMMARY, rest)
    if standalone:
        run(functools.partial(_standalone, settings.listeners), level_var=LOG_LEVEL)
    run(functools.partial(_service, settings), level_var=LOG_LEVEL)


async def _standalone(settings: MqttSettings, stop: asyncio.Event) -> None:
    adapter = build_standalone(settings)
    await _serve(adapter, stop)


async def _service(command: CommandSettings, stop: asyncio.Event) -> None:
    from mainflux.events.redis import RedisEventStream
    from mainflux.messaging.nats import NatsBus
    from mainflux.things.client import GrpcThingAccess

    settings, service = command.listeners, command.service
    try:
        bus = await NatsBus.connect(service.nats_url)
    except Exception as exc:
        raise StartupError(f"MF_NATS_URL: cannot connect to {service.nats_url}: {exc}") from None
    events = RedisEventStream(service.es_url, maxlen=1000)
    things_events = RedisEventStream(service.things_es_url)
    access = GrpcThingAccess(service.things_url, service.things_timeout, tls=service.things_tls)
    adapter = build_adapter(access, bus, events, settings, things_events=things_events)
    try:
        await _serve(adapter, stop)
    finally:
        await bus.close()
        await events.close()
        await things_events.close()


async def _serve(adapter: MqttAdapter, stop: asyncio.Event) -> None:
    await adapter.start()
    tune_garbage_collector()
    log.info("mqtt adapter listening on %s", adapter.ports)
    try:
        await stop.wait()
    finally:
        await adapter.stop()
