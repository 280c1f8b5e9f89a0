"""``mainflux-ui``: the web console as its own process, in front of the services' APIs."""

from __future__ import annotations

import asyncio
import functools
from contextlib import AsyncExitStack

from mainflux.console.app import ConsoleConfig, create_app
from mainflux.console.client import PlatformClient, ServiceUrls
from mainflux.console.commands import Endpoints
from mainflux.console.feed import EventFeed
from mainflux.console.settings import LOG_LEVEL, PORT, PROG, SUMMARY, Settings
from mainflux.core import runner
from mainflux.core.settings import from_command_line


def build_config(settings: Settings, stack: AsyncExitStack) -> ConsoleConfig:
    """The console's configuration from its settings (the Redis client closes with ``stack``)."""
    urls = ServiceUrls(
        users=settings.users_url.rstrip("/"),
        things=settings.things_url.rstrip("/"),
        authn=settings.authn_url.rstrip("/"),
        reader=settings.reader_url.rstrip("/"),
        bootstrap=settings.bootstrap_url.rstrip("/"),
    )
    endpoints = Endpoints(
        http=settings.http_adapter_url.rstrip("/"),
        ws=settings.ws_url.rstrip("/"),
        mqtt_host=settings.mqtt_host,
        mqtt_port=settings.mqtt_port,
        coap=settings.coap_url.rstrip("/"),
    )
    feed = None
    if settings.events_url:
        from mainflux.events.redis import RedisEventStream

        events = RedisEventStream(settings.events_url)
        stack.push_async_callback(events.close)
        feed = EventFeed(events)
    return ConsoleConfig(
        client=PlatformClient(urls),
        endpoints=lambda _request: endpoints,
        feed=feed,
        secure_cookies=settings.secure_cookies,
        has_reader=bool(settings.reader_url),
    )


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Serve the console until ``stop`` is set."""
    sock = runner.bind_socket(settings.host, settings.port, PORT)
    try:
        async with AsyncExitStack() as stack:
            app = create_app(build_config(settings, stack))
            server = asyncio.create_task(runner.serve_http(app, sock, name="ui"))
            runner.log.info("console listening on %s:%d", settings.host, settings.port)
            await runner.until_stopped(stop, server)
    finally:
        sock.close()


def main() -> None:
    """Entry point of ``mainflux-ui`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    runner.run(functools.partial(serve, settings=settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
