"""The ``mainflux-provision`` process: ``POST /mapping`` on ``MF_PROVISION_HTTP_PORT``.

:func:`build_service` is the part the all-in-one process reuses."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Final

from mainflux.core.runner import bind_socket, run, serve_http, until_stopped
from mainflux.core.settings import from_command_line
from mainflux.provision.api import create_app
from mainflux.provision.ports import Platform
from mainflux.provision.service import ProvisionService
from mainflux.provision.settings import LOG_LEVEL, PROG, SUMMARY, ProvisionSettings
from mainflux.provision.template import load_template

HOST: Final = "0.0.0.0"
log = logging.getLogger("mainflux.provision")


def build_service(settings: ProvisionSettings, platform: Platform) -> ProvisionService:
    """The service over ``platform`` with the template the settings name.

    Raises ``ConfigError`` naming the variable when the template cannot be used."""
    template = load_template(
        settings.config_file,
        provision=settings.bootstrap_provision,
        whitelist=settings.auto_whitelist,
        content=settings.bootstrap_content,
    )
    return ProvisionService(
        platform,
        template,
        api_key=settings.api_key,
        user=settings.user,
        password=settings.password,
    )


async def serve(stop: asyncio.Event, settings: ProvisionSettings) -> None:
    """Run provision until ``stop`` is set."""
    from mainflux.provision.client import HttpPlatform

    platform = HttpPlatform(
        settings.users_url, settings.things_url, settings.bootstrap_url, timeout=settings.timeout
    )
    try:
        service = build_service(settings, platform)
        sock = bind_socket(HOST, settings.port, "MF_PROVISION_HTTP_PORT")
        try:
            log.info("provision HTTP on port %d", settings.port)
            await until_stopped(
                stop, asyncio.create_task(serve_http(create_app(service), sock, name="provision"))
            )
        finally:
            sock.close()
    finally:
        await platform.close()


def main() -> None:
    """Entry point of ``mainflux-provision``: ``--help`` lists its variables."""
    settings = from_command_line(ProvisionSettings, PROG, SUMMARY)
    run(functools.partial(serve, settings=settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
