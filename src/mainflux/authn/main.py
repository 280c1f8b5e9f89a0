"""``mainflux-authn``: the authn microservice (HTTP key API and gRPC ``AuthNService``).

Configured by Mainflux's variables: ``MF_AUTHN_HTTP_PORT`` (8189), ``MF_AUTHN_GRPC_PORT``
(8181), ``MF_AUTHN_SECRET`` (required, at least 32 bytes: unlike Go Mainflux there is no
default signing secret), ``MF_AUTHN_DB_*`` (PostgreSQL database ``authn``),
``MF_AUTHN_LOG_LEVEL``, and ``MF_AUTHN_SERVER_CERT``/``MF_AUTHN_SERVER_KEY`` (PEM files:
both faces speak TLS when set). The schema is migrated at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.api import create_app
from mainflux.authn.grpc import start_grpc_server
from mainflux.authn.service import AuthnService
from mainflux.authn.store import SqlKeyRepository
from mainflux.core.config import env_port, env_secret, postgres_url
from mainflux.core.db import create_engine, migrate
from mainflux.core.runner import (
    StartupError,
    bind_socket,
    first_line,
    run,
    serve_http,
    until_stopped,
)
from mainflux.core.tls import ServerTLS, server_tls

log = logging.getLogger("mainflux.authn")


@dataclass(frozen=True, slots=True)
class Settings:
    """The authn service's settings, read once from the environment."""

    http_port: int
    grpc_port: int
    db_url: str = field(repr=False)
    secret: str = field(repr=False)
    tls: ServerTLS | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``MF_AUTHN_*``; raises ``ConfigError`` naming a bad variable, also when
        ``MF_AUTHN_SECRET`` is unset or shorter than 32 bytes."""
        return cls(
            http_port=env_port("MF_AUTHN_HTTP_PORT", 8189, environ),
            grpc_port=env_port("MF_AUTHN_GRPC_PORT", 8181, environ),
            db_url=postgres_url("AUTHN", "authn", environ),
            secret=env_secret("MF_AUTHN_SECRET", environ),
            tls=server_tls("AUTHN", environ),
        )


async def build_service(engine: AsyncEngine, secret: str) -> AuthnService:
    """Migrate the authn schema on ``engine`` and return a ready service."""
    await migrate(engine, "authn")
    return AuthnService(SqlKeyRepository(engine), secret)


async def serve(stop: asyncio.Event, environ: Mapping[str, str] | None = None) -> None:
    """Run authn until ``stop`` is set."""
    settings = Settings.from_env(environ)
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
            await until_stopped(stop, http)
        finally:
            await grpc_server.stop()
    finally:
        http_sock.close()
        await engine.dispose()


def main() -> None:
    """Entry point of ``mainflux-authn``."""
    run(serve, level_var="MF_AUTHN_LOG_LEVEL")
