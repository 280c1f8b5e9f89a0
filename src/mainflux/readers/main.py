"""``mainflux-postgres-reader``: the readers API over PostgreSQL, port 9204.

Thing keys are checked by the things service over gRPC (``MF_THINGS_AUTH_GRPC_URL``);
with ``MF_THINGS_URL`` set (e.g. ``http://localhost:8182``) the channel owner's user
token is let in too, checked over HTTP (unset: thing keys only, like Mainflux's
readers). TLS: ``MF_POSTGRES_READER_SERVER_CERT``/``_SERVER_KEY`` (HTTPS),
``MF_POSTGRES_READER_CLIENT_TLS``/``_CA_CERTS`` (the things gRPC client; the CA bundle
is also trusted for an ``https`` ``MF_THINGS_URL``). ``mainflux-postgres-reader --help``
lists every variable with its default."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass
from typing import Final

from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.health import PROBE_KEY, answering_probe, database_probe, watching
from mainflux.core.runner import bind_socket, run, serve_http, until_stopped
from mainflux.core.settings import (
    client_tls_setting,
    from_command_line,
    log_level_setting,
    port_setting,
    postgres_setting,
    server_tls_setting,
    setting,
    url_with_scheme,
)
from mainflux.core.tls import ClientTLS, ServerTLS
from mainflux.readers.api import SERVICE, create_app
from mainflux.readers.sql import SQLReader
from mainflux.storage.migrate import migrate_when_reachable

PROG: Final = "mainflux-postgres-reader"
SUMMARY: Final = (
    "The PostgreSQL reader: GET /channels/<id>/messages serves a channel's stored "
    "messages to its things' keys (and to its owner's token with MF_THINGS_URL)."
    "\nIts HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)
PREFIX: Final = "POSTGRES_READER"
PORT: Final = f"MF_{PREFIX}_PORT"
LOG_LEVEL: Final = f"MF_{PREFIX}_LOG_LEVEL"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``mainflux-postgres-reader`` reads, once, from the environment."""

    port: int = port_setting(PORT, 9204, "HTTP port of the readers API")
    db_url: str = postgres_setting(PREFIX, "messages")
    grpc_url: str = setting(
        "MF_THINGS_AUTH_GRPC_URL", "localhost:8183", "things' gRPC access service"
    )
    grpc_timeout: float = setting(
        "MF_THINGS_AUTH_GRPC_TIMEOUT", 1.0, "seconds per access call", minimum=0.001
    )
    things_url: str = setting(
        "MF_THINGS_URL",
        "",
        "things' HTTP API, to let in the channel owner's token (unset: thing keys only)",
        check=url_with_scheme("http", "https"),
    )
    tls: ServerTLS | None = server_tls_setting(PREFIX)
    things_tls: ClientTLS | None = client_tls_setting(PREFIX, peer="the things service")
    log_level: str = log_level_setting(LOG_LEVEL)


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Serve the readers API until ``stop`` is set."""
    from mainflux.things.client import GrpcThingAccess, HttpChannelOwner

    sock = bind_socket("0.0.0.0", settings.port, PORT)
    engine = create_engine(settings.db_url)
    things_tls = settings.things_tls
    access = GrpcThingAccess(settings.grpc_url, settings.grpc_timeout, tls=things_tls)
    owner = (
        HttpChannelOwner(
            settings.things_url,
            verify=things_tls.ssl_context() if things_tls is not None else True,
        )
        if settings.things_url
        else None
    )
    try:
        if not await migrate_when_reachable(engine, stop):
            return
        app = create_app(SQLReader(engine), access, owner)
        ssl = settings.tls.ssl_context() if settings.tls is not None else None
        watched = watching(
            {
                "database": database_probe(engine),
                "things": answering_probe(
                    lambda: access.identify(PROBE_KEY), down=ServiceUnavailable
                ),
            }
        )
        with watched:
            await until_stopped(
                stop, asyncio.create_task(serve_http(app, sock, name=SERVICE, ssl=ssl))
            )
    finally:
        for client in (access, owner):
            close = getattr(client, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        await engine.dispose()


def main() -> None:
    """Entry point of ``mainflux-postgres-reader`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    run(functools.partial(serve, settings=settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
