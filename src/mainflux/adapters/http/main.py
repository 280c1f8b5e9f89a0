"""``mainflux-http``: the HTTP adapter as its own process (or several sharing the port).

Settings are Mainflux's ``MF_HTTP_ADAPTER_*`` variables and the shared adapter ones
(:mod:`mainflux.adapters.http.settings`); ``mainflux-http --help`` lists them all with
their defaults. With ``MF_HTTP_ADAPTER_WORKERS`` above 1, that many processes share the
port (``SO_REUSEPORT``) and stop together."""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import signal
import sys
from typing import Any

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.http.api import create_app
from mainflux.adapters.http.settings import LOG_LEVEL, PROG, SUMMARY, Settings
from mainflux.adapters.runtime import serve_adapter
from mainflux.core import runner
from mainflux.core.settings import from_command_line
from mainflux.messaging.nats import NatsBus


async def serve(settings: Settings, stop: asyncio.Event, *, shared: bool = False) -> None:
    """Run one adapter process until ``stop`` is set; ``shared``: one of several workers."""

    def app(access: CachedThingAccess, bus: NatsBus) -> Any:
        return create_app(access, bus, max_body=settings.max_body)

    await serve_adapter(settings.adapter, "http", app, stop, reuse_port=shared)


def _worker(settings: Settings) -> None:
    runner.run(functools.partial(serve, settings, shared=True), level_var=LOG_LEVEL)


def _supervise(settings: Settings) -> int:
    """Start ``settings.workers`` processes on the shared port; stop them all together."""
    try:
        where = settings.adapter
        runner.bind_socket(where.host, where.port, where.port_variable, reuse_port=True).close()
    except runner.StartupError as exc:
        print(f"mainflux: {exc}", file=sys.stderr)
        return 2
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(settings,)) for _ in range(settings.workers)]
    for worker in workers:
        worker.start()

    def stop_all(*_: object) -> None:
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    code = 0
    remaining = list(workers)
    while remaining:
        for worker in list(remaining):
            worker.join(0.2)
            if worker.exitcode is not None:
                remaining.remove(worker)
                if worker.exitcode != 0 and code == 0:
                    code = worker.exitcode if worker.exitcode > 0 else 1
                    stop_all()
    return code


def main() -> None:
    """Entry point of ``mainflux-http`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    if settings.workers == 1:
        runner.run(functools.partial(serve, settings), level_var=LOG_LEVEL)
    raise SystemExit(_supervise(settings))


if __name__ == "__main__":
    main()
