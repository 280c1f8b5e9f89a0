"""``mainflux-users``: the users microservice.

Configured by Mainflux's variables: ``MF_USERS_HTTP_PORT`` (8180), ``MF_USERS_DB_*``
(PostgreSQL database ``users``), ``MF_AUTHN_GRPC_URL`` (``localhost:8181``),
``MF_AUTHN_GRPC_TIMEOUT`` (1 s), ``MF_EMAIL_*`` (SMTP, used when ``MF_EMAIL_HOST`` is
set) and ``MF_USERS_MAIL_DIR`` (``./data/mail``, where reset mails are written when
there is no SMTP server); and ``MF_USERS_RESET_URL``, the page password-reset links
point at (default: this service's own ``/password/reset`` page on ``localhost``). Go's
``MF_TOKEN_RESET_ENDPOINT`` is not used: links no longer follow the request's
``Referer``. TLS: ``MF_USERS_SERVER_CERT``/``MF_USERS_SERVER_KEY`` (HTTPS) and
``MF_AUTHN_CLIENT_TLS``/``MF_AUTHN_CA_CERTS`` (the authn gRPC client)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.client import GrpcUserAuth
from mainflux.core.config import ConfigError, env, env_float, env_port, postgres_url
from mainflux.core.db import create_engine, migrate
from mainflux.core.runner import (
    StartupError,
    bind_socket,
    first_line,
    run,
    serve_http,
    until_stopped,
)
from mainflux.core.tls import ClientTLS, ServerTLS, client_tls, server_tls
from mainflux.users.api import create_app
from mainflux.users.email import OutboxEmailer, SmtpEmailer
from mainflux.users.hasher import BcryptHasher
from mainflux.users.ports import AccountAuth, Emailer, Hasher
from mainflux.users.service import DEFAULT_RESET_URL, UsersService
from mainflux.users.store import SqlUserRepository

log = logging.getLogger("mainflux.users")

#: The path of the page the users service serves for reset links.
RESET_PATH: Final = "/password/reset"
#: How long a stopping service waits for reset mails still being sent.
DRAIN_SECONDS: Final = 15.0


def reset_url(
    host: str, port: int, *, tls: bool = False, environ: Mapping[str, str] | None = None
) -> str:
    """The page password-reset links point at.

    ``MF_USERS_RESET_URL`` when set, else ``http(s)://<host>:<port>/password/reset``
    (``localhost`` for a wildcard ``host``). Raises ``ConfigError`` naming
    ``MF_USERS_RESET_URL`` when it is not an absolute ``http``/``https`` URL."""
    configured = env("MF_USERS_RESET_URL", "", environ)
    if configured:
        parts = urlsplit(configured)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"MF_USERS_RESET_URL: expected an http:// or https:// URL, got {configured!r}"
            )
        return configured
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http{'s' if tls else ''}://{host}:{port}{RESET_PATH}"


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """SMTP settings (``MF_EMAIL_*``)."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    from_address: str
    from_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmailSettings | None:
        """The SMTP settings, or ``None`` when ``MF_EMAIL_HOST`` is unset."""
        host = env("MF_EMAIL_HOST", "", environ)
        if not host:
            return None
        return cls(
            host=host,
            port=env_port("MF_EMAIL_PORT", 25, environ),
            username=env("MF_EMAIL_USERNAME", "root", environ),
            password=env("MF_EMAIL_PASSWORD", "", environ),
            from_address=env("MF_EMAIL_FROM_ADDRESS", "", environ),
            from_name=env("MF_EMAIL_FROM_NAME", "", environ),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """The users service's settings, read once from the environment."""

    http_port: int
    db_url: str = field(repr=False)
    authn_url: str
    authn_timeout: float
    reset_url: str
    mail_dir: str
    email: EmailSettings | None
    tls: ServerTLS | None = None
    authn_tls: ClientTLS | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; raises ``ConfigError`` naming a bad variable."""
        timeout = env_float("MF_AUTHN_GRPC_TIMEOUT", 1.0, environ=environ)
        if timeout <= 0:
            raise ConfigError(f"MF_AUTHN_GRPC_TIMEOUT: must be positive, got {timeout}")
        authn_url = env("MF_AUTHN_GRPC_URL", "localhost:8181", environ)
        if "://" in authn_url or ":" not in authn_url:
            raise ConfigError(f"MF_AUTHN_GRPC_URL: expected host:port, got {authn_url!r}")
        http_port = env_port("MF_USERS_HTTP_PORT", 8180, environ)
        tls = server_tls("USERS", environ)
        return cls(
            http_port=http_port,
            db_url=postgres_url("USERS", "users", environ),
            authn_url=authn_url,
            authn_timeout=timeout,
            reset_url=reset_url("localhost", http_port, tls=tls is not None, environ=environ),
            mail_dir=env("MF_USERS_MAIL_DIR", "./data/mail", environ),
            email=EmailSettings.from_env(environ),
            tls=tls,
            authn_tls=client_tls("AUTHN", environ=environ),
        )


def build_emailer(settings: Settings) -> Emailer:
    """SMTP when ``MF_EMAIL_HOST`` is set, else an outbox directory."""
    if settings.email is None:
        return OutboxEmailer(settings.mail_dir)
    e = settings.email
    return SmtpEmailer(e.host, e.port, e.username, e.password, e.from_address, e.from_name)


async def build_service(
    engine: AsyncEngine,
    auth: AccountAuth,
    emailer: Emailer,
    *,
    hasher: Hasher | None = None,
    reset_url: str = DEFAULT_RESET_URL,
) -> UsersService:
    """Migrate the users schema on ``engine`` and return a ready service.

    ``auth`` is the authn service (in-process) or its gRPC client; ``reset_url`` is the
    page password-reset links point at (see :func:`reset_url`)."""
    await migrate(engine, "users")
    service = UsersService(
        SqlUserRepository(engine), hasher or BcryptHasher(), auth, emailer, reset_url
    )
    await service.prepare()
    return service


async def serve(stop: asyncio.Event, environ: Mapping[str, str] | None = None) -> None:
    """Run the users service until ``stop`` is set."""
    settings = Settings.from_env(environ)
    if env("MF_TOKEN_RESET_ENDPOINT", "", environ):
        log.warning("MF_TOKEN_RESET_ENDPOINT is not used: set MF_USERS_RESET_URL instead")
    http_sock = bind_socket("0.0.0.0", settings.http_port, "MF_USERS_HTTP_PORT")
    engine = create_engine(settings.db_url)
    auth = GrpcUserAuth(settings.authn_url, settings.authn_timeout, tls=settings.authn_tls)
    try:
        try:
            service = await build_service(
                engine, auth, build_emailer(settings), reset_url=settings.reset_url
            )
        except Exception as exc:
            reason = first_line(exc)
            raise StartupError(f"MF_USERS_DB_HOST: cannot use the database: {reason}") from None
        log.info(
            "users listening: HTTP%s on port %d (authn at %s, reset links to %s)",
            "S" if settings.tls else "",
            settings.http_port,
            settings.authn_url,
            settings.reset_url,
        )
        ssl = settings.tls.ssl_context() if settings.tls else None
        http = asyncio.create_task(
            serve_http(create_app(service), http_sock, name="users", ssl=ssl)
        )
        try:
            await until_stopped(stop, http)
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(service.drain(), DRAIN_SECONDS)
    finally:
        http_sock.close()
        await auth.close()
        await engine.dispose()


_check: type[AccountAuth] = GrpcUserAuth


def main() -> None:
    """Entry point of ``mainflux-users``."""
    run(serve, level_var="MF_USERS_LOG_LEVEL")
