"""``mainflux-authn``: the authn microservice (HTTP key API and gRPC ``AuthNService``).

Configured by Mainflux's variables (``mainflux-authn --help`` lists them with their
defaults): its HTTP and gRPC ports, ``MF_AUTHN_SECRET`` (required, at least 32 bytes:
unlike Go Mainflux there is no default signing secret), its PostgreSQL database and
``MF_AUTHN_SERVER_CERT``/``MF_AUTHN_SERVER_KEY`` (PEM files: both faces speak TLS when
set). The schema is migrated at start."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.api import create_app
from mainflux.authn.grpc import start_grpc_server
from mainflux.authn.service import AuthnService
from mainflux.authn.store import SqlKeyRepository
from mainflux.core.config import MIN_SECRET_BYTES, env_secret
from mainflux.core.db import create_engine, migrate
from mainflux.core.health import database_probe, watching
from mainflux.core.runner import (
    StartupError,
    bind_socket,
    first_line,
    run,
    serve_http,
    until_stopped,
)
from mainflux.core.settings import (
    Environ,
    derived,
    from_command_line,
    log_level_setting,
    port_setting,
    postgres_setting,
    server_tls_setting,
)
from mainflux.core.tls import ServerTLS

log = logging.getLogger("mainflux.authn")

SUMMARY: Final = (
    "The authn service: issues and checks login, recovery and API keys "
    "(HTTP key API and gRPC AuthNService), backed by PostgreSQL."
    "\nEvery HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)


def _secret(environ: Environ) -> str:
    return env_secret("MF_AUTHN_SECRET", environ)


@dataclass(frozen=True, slots=True)
class Settings:
    """The authn service's settings, read once from the environment (see
    :func:`mainflux.core.settings.load`); ``MF_AUTHN_SECRET`` unset or shorter than 32
    bytes is a ``ConfigError``."""

    http_port: int = port_setting("MF_AUTHN_HTTP_PORT", 8189, "HTTP port")
    grpc_port: int = port_setting("MF_AUTHN_GRPC_PORT", 8181, "gRPC port")
    db_url: str = postgres_setting("AUTHN", "authn")
    secret: str = derived(
        _secret,
        [
            (
                "MF_AUTHN_SECRET",
                "(required)",
                f"signing secret of at least {MIN_SECRET_BYTES} bytes (openssl rand -base64 32)",
            )
        ],
        secret=True,
    )
    tls: ServerTLS | None = server_tls_setting("AUTHN", "HTTPS and gRPC over TLS")
    log_level: str = log_level_setting("MF_AUTHN_LOG_LEVEL")


async def build_service(engine: AsyncEngine, secret: str) -> AuthnService:
    """Migrate the authn schema on ``engine`` and return a ready service."""
    await migrate(engine, "authn")
    return AuthnService(SqlKeyRepository(engine), secret)


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Run authn until ``stop`` is set."""
    http_sock = bind_socket("0.0.0.0", settings.http_port, "MF_AUTHN_HTTP_PORT")
    if settings.grpc_port:  # a busy gRPC port fails before the database is touched
        try:
            bind_socket("0.0.0.0", settings.grpc_port, "MF_AUTHN_GRPC_PORT").close()
        except StartupError:
            http_sock.close()
            raise
    engine = create_engine(settings.db_url)
    try:
        try:
            service = await build_service(engine, settings.secret)
        except Exception as exc:
            reason = first_line(exc)
            raise StartupError(f"MF_AUTHN_DB_HOST: cannot use the database: {reason}") from None
        grpc_server = await start_grpc_server(
            service, "0.0.0.0", settings.grpc_port, setting="MF_AUTHN_GRPC_PORT", tls=settings.tls
        )
        log.info(
            "authn listening: HTTP%s on port %d, gRPC%s on port %d",
            "S" if settings.tls else "",
            settings.http_port,
            " over TLS" if settings.tls else "",
            grpc_server.port,
        )
        ssl = settings.tls.ssl_context() if settings.tls else None
        try:
            http = asyncio.create_task(
                serve_http(create_app(service), http_sock, name="authn", ssl=ssl)
            )
            with watching({"database": database_probe(engine)}):
                await until_stopped(stop, http)
        finally:
            await grpc_server.stop()
    finally:
        http_sock.close()
        await engine.dispose()


def main() -> None:
    """Entry point of ``mainflux-authn``: ``--help`` lists its variables."""
    settings = from_command_line(Settings, "mainflux-authn", SUMMARY)
    run(functools.partial(serve, settings=settings), level_var="MF_AUTHN_LOG_LEVEL")


if __name__ == "__main__":
    main()
