"""``mainflux-mqtt``: the MQTT adapter service (``--standalone``: a plain broker)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys

from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter, build_standalone
from mainflux.adapters.mqtt.events import STREAM
from mainflux.adapters.mqtt.settings import CommandSettings, MqttSettings
from mainflux.adapters.mqtt.state import open_state
from mainflux.adapters.runtime import connect_bus, open_access
from mainflux.core.health import nats_probe, watching
from mainflux.core.runner import run, tune_garbage_collector
from mainflux.core.settings import from_command_line
from mainflux.events.retention import keep_trimmed

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
    state = await open_state(settings.state_url, settings.instance)
    adapter = build_standalone(settings, state)
    await _serve(adapter, stop)


async def _service(command: CommandSettings, stop: asyncio.Event) -> None:
    from mainflux.events.redis import RedisEventStream

    settings, service = command.listeners, command.service
    bus = await connect_bus(service.nats_url, "mqtt-adapter")
    events = RedisEventStream(service.es_url)
    trimming = asyncio.create_task(keep_trimmed(events, [STREAM], command.retention))
    try:
        state = await open_state(settings.state_url, settings.instance, redis_url=service.es_url)
        async with open_access(service.access) as access:
            probes = {
                "nats": nats_probe(bus.client),
                "state store": state.ping if state is not None else None,
            }
            with watching(probes):
                await _serve(build_adapter(access, bus, events, settings, state=state), stop)
    finally:
        trimming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await trimming
        await bus.close()
        await events.close()


async def _serve(adapter: MqttAdapter, stop: asyncio.Event) -> None:
    await adapter.start()
    tune_garbage_collector()
    log.info("mqtt adapter listening on %s", adapter.ports)
    try:
        await stop.wait()
    finally:
        await adapter.stop()


if __name__ == "__main__":
    main()
