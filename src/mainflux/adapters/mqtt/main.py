"""``mainflux-mqtt``: the MQTT adapter service (``--standalone``: a plain broker)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter, build_standalone
from mainflux.adapters.mqtt.settings import MqttSettings, ServiceSettings
from mainflux.core.runner import StartupError, run, tune_garbage_collector

log = logging.getLogger("mainflux.mqtt")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``mainflux-mqtt``."""
    parser = argparse.ArgumentParser(prog="mainflux-mqtt", description=__doc__)
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="run as a plain MQTT broker: no authentication, no bus, no events",
    )
    args = parser.parse_args(argv)
    run(_standalone if args.standalone else _service, level_var="MF_MQTT_ADAPTER_LOG_LEVEL")


async def _standalone(stop: asyncio.Event) -> None:
    adapter = build_standalone(MqttSettings.from_env())
    await _serve(adapter, stop)


async def _service(stop: asyncio.Event) -> None:
    from mainflux.events.redis import RedisEventStream
    from mainflux.messaging.nats import NatsBus
    from mainflux.things.client import GrpcThingAccess

    settings = MqttSettings.from_env()
    service = ServiceSettings.from_env()
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
