"""``mainflux-postgres-reader``: the readers API over PostgreSQL, port 9204.

Settings: ``MF_POSTGRES_READER_PORT`` (9204), ``MF_POSTGRES_READER_DB_*``,
``MF_THINGS_AUTH_GRPC_URL`` (``localhost:8183``) and ``MF_THINGS_AUTH_GRPC_TIMEOUT``
(seconds, 1) for thing keys, ``MF_THINGS_URL`` (e.g. ``http://localhost:8182``; unset:
thing keys only, like Mainflux's readers) for the owner's user-token check. TLS:
``MF_POSTGRES_READER_SERVER_CERT``/``_SERVER_KEY`` (HTTPS),
``MF_POSTGRES_READER_CLIENT_TLS``/``_CA_CERTS`` (the things gRPC client; the CA bundle
is also trusted for an ``https`` ``MF_THINGS_URL``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mainflux.consumers.reader import SERVICE, create_app
from mainflux.consumers.startup import migrate_when_reachable
from mainflux.consumers.store import MessageRepository
from mainflux.core.config import env, env_float, env_port, env_url, postgres_url
from mainflux.core.db import create_engine
from mainflux.core.runner import bind_socket, run, serve_http, until_stopped
from mainflux.core.tls import client_tls, server_tls

log = logging.getLogger("mainflux.reader")

PREFIX = "MF_POSTGRES_READER"


async def serve(stop: asyncio.Event) -> None:
    """Serve the readers API until ``stop`` is set."""
    from mainflux.things.client import GrpcThingAccess, HttpChannelOwner

    port = env_port(f"{PREFIX}_PORT", 9204)
    grpc_url = env("MF_THINGS_AUTH_GRPC_URL", "localhost:8183")
    timeout = env_float("MF_THINGS_AUTH_GRPC_TIMEOUT", 1.0, minimum=0.001)
    things_url = env_url("MF_THINGS_URL", "", ("http", "https"))
    db_url = postgres_url("POSTGRES_READER", "messages")
    tls = server_tls("POSTGRES_READER")
    things_tls = client_tls("POSTGRES_READER")
    sock = bind_socket("0.0.0.0", port, f"{PREFIX}_PORT")
    engine = create_engine(db_url)
    access = GrpcThingAccess(grpc_url, timeout, tls=things_tls)
    owner = (
        HttpChannelOwner(
            things_url, verify=things_tls.ssl_context() if things_tls is not None else True
        )
        if things_url
        else None
    )
    try:
        if not await migrate_when_reachable(engine, stop):
            return
        app = create_app(MessageRepository(engine), access, owner)
        ssl = tls.ssl_context() if tls is not None else None
        await until_stopped(stop, asyncio.create_task(serve_http(app, sock, name=SERVICE, ssl=ssl)))
    finally:
        for client in (access, owner):
            close = getattr(client, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        await engine.dispose()


def main() -> None:
    """Entry point of ``mainflux-postgres-reader``."""
    run(serve, level_var=f"{PREFIX}_LOG_LEVEL")


if __name__ == "__main__":
    main()
