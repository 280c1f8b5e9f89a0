"""``mainflux-coap``: the CoAP adapter as its own process.

Settings are Mainflux's ``MF_COAP_ADAPTER_*`` variables and the shared adapter ones
(:mod:`mainflux.adapters.coap.settings`); ``mainflux-coap --help`` lists them all with
their defaults. CoAP is served on UDP ``MF_COAP_ADAPTER_PORT``, ``/version`` and
``/metrics`` over HTTP on TCP with the same port number. Without ``MF_THINGS_ES_URL``
the access cache relies on its max age and observations are never revoked."""

from __future__ import annotations

import asyncio
import functools

from mainflux.adapters.coap import create_http_app, open_server
from mainflux.adapters.coap.settings import LOG_LEVEL, PORT, PROG, SUMMARY, Settings
from mainflux.adapters.runtime import connect_bus, open_access
from mainflux.core import runner
from mainflux.core.health import nats_probe, watching
from mainflux.core.settings import from_command_line


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the adapter until ``stop`` is set."""
    sock = runner.bind_socket(settings.host, settings.port, PORT)
    bus = await connect_bus(settings.nats_url, "coap-adapter")
    try:
        async with open_access(settings.access) as access:
            try:
                server = open_server(access, bus, settings.host, settings.port, settings.tuning)
                await server.__aenter__()
            except OSError as exc:
                raise runner.StartupError(
                    f"{PORT}: cannot listen on UDP {settings.host}:{settings.port}: "
                    f"{exc.strerror or exc}"
                ) from None
            try:
                http = asyncio.create_task(
                    runner.serve_http(create_http_app(), sock, name="coap", limits=settings.limits)
                )
                runner.tune_garbage_collector()
                runner.log.info(
                    "coap adapter listening on udp and tcp %s:%d", settings.host, settings.port
                )
                with watching({"nats": nats_probe(bus.client)}):
                    await runner.until_stopped(stop, http)
            finally:
                await server.__aexit__(None, None, None)
    finally:
        await bus.close()
        sock.close()


def main() -> None:
    """Entry point of ``mainflux-coap`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    runner.run(functools.partial(serve, settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
