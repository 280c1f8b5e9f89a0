"""``mainflux-users``: the users microservice.

Configured by Mainflux's variables (``mainflux-users --help`` lists them with their
defaults): its HTTP port, its PostgreSQL database, the authn service's gRPC address,
SMTP (``MF_EMAIL_*``, used when ``MF_EMAIL_HOST`` is set; else reset mails are written
to ``MF_USERS_MAIL_DIR``) and ``MF_USERS_RESET_URL``, the page password-reset links
point at (default: this service's own ``/password/reset`` page on ``localhost``). Go's
``MF_TOKEN_RESET_ENDPOINT`` is not used: links no longer follow the request's
``Referer``."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.authn.client import GrpcUserAuth
from mainflux.core.config import env
from mainflux.core.db import create_engine, migrate
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.health import PROBE_KEY, answering_probe, database_probe, watching
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
    client_tls_setting,
    derived,
    from_command_line,
    load,
    log_level_setting,
    port_setting,
    postgres_setting,
    server_tls_setting,
    setting,
    variables,
)
from mainflux.core.tls import ClientTLS, ServerTLS
from mainflux.users.api import create_app
from mainflux.users.email import OutboxEmailer, SmtpEmailer
from mainflux.users.hasher import BcryptHasher
from mainflux.users.links import check_reset_url, reset_url
from mainflux.users.ports import AccountAuth, Emailer, Hasher
from mainflux.users.service import DEFAULT_RESET_URL, UsersService
from mainflux.users.store import SqlUserRepository

log = logging.getLogger("mainflux.users")

#: How long a stopping service waits for reset mails still being sent.
DRAIN_SECONDS: Final = 15.0
SUMMARY: Final = (
    "The users service: accounts, login tokens and password resets (HTTP), "
    "backed by PostgreSQL and the authn service (gRPC)."
    "\nEvery HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)


def _host_port(value: str) -> None:
    if "://" in value or ":" not in value:
        raise ValueError(f"expected host:port, got {value!r}")


def _positive(value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be positive, got {value}")


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """SMTP settings (``MF_EMAIL_*``), read only when ``MF_EMAIL_HOST`` is set."""

    host: str = setting(
        "MF_EMAIL_HOST", "", "SMTP server; unset: reset mails go to MF_USERS_MAIL_DIR"
    )
    port: int = port_setting("MF_EMAIL_PORT", 25, "SMTP port")
    username: str = setting("MF_EMAIL_USERNAME", "root", "SMTP user")
    password: str = setting("MF_EMAIL_PASSWORD", "", "SMTP password", secret=True)
    from_address: str = setting("MF_EMAIL_FROM_ADDRESS", "", "sender address of reset mails")
    from_name: str = setting("MF_EMAIL_FROM_NAME", "", "sender name of reset mails")


def _email(environ: Environ) -> EmailSettings | None:
    return load(EmailSettings, environ) if env("MF_EMAIL_HOST", "", environ) else None


@dataclass(frozen=True, slots=True)
class Settings:
    """The users service's settings, read once from the environment (see
    :func:`mainflux.core.settings.load`)."""

    http_port: int = port_setting("MF_USERS_HTTP_PORT", 8180, "HTTP port")
    db_url: str = postgres_setting("USERS", "users")
    authn_url: str = setting(
        "MF_AUTHN_GRPC_URL", "localhost:8181", "authn gRPC address (host:port)", check=_host_port
    )
    authn_timeout: float = setting(
        "MF_AUTHN_GRPC_TIMEOUT", 1.0, "seconds per call to authn", minimum=0, check=_positive
    )
    authn_tls: ClientTLS | None = client_tls_setting("AUTHN", peer="authn")
    configured_reset_url: str = setting(
        "MF_USERS_RESET_URL",
        "",
        "http(s) URL reset links point at; unset: this service's /password/reset",
        shown="(own page)",
        check=check_reset_url,
    )
    ignored_reset_endpoint: str = setting(
        "MF_TOKEN_RESET_ENDPOINT", "", "Go Mainflux's reset endpoint: not used (a warning)"
    )
    mail_dir: str = setting(
        "MF_USERS_MAIL_DIR", "./data/mail", "where reset mails are written without SMTP"
    )
    email: EmailSettings | None = derived(_email, variables(EmailSettings))
    tls: ServerTLS | None = server_tls_setting("USERS")
    log_level: str = log_level_setting("MF_USERS_LOG_LEVEL")

    @property
    def reset_url(self) -> str:
        """The page password-reset links point at (see :func:`~.links.reset_url`)."""
        return reset_url(
            "localhost",
            self.http_port,
            tls=self.tls is not None,
            configured=self.configured_reset_url,
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
    page password-reset links point at (see :func:`mainflux.users.links.reset_url`)."""
    await migrate(engine, "users")
    service = UsersService(
        SqlUserRepository(engine), hasher or BcryptHasher(), auth, emailer, reset_url
    )
    await service.prepare()
    return service


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Run the users service until ``stop`` is set."""
    if settings.ignored_reset_endpoint:
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
            watched = watching(
                {
                    "database": database_probe(engine),
                    "authn": answering_probe(
                        functools.partial(auth.identify, PROBE_KEY), down=ServiceUnavailable
                    ),
                }
            )
            with watched:
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
    """Entry point of ``mainflux-users``: ``--help`` lists its variables."""
    settings = from_command_line(Settings, "mainflux-users", SUMMARY)
    run(functools.partial(serve, settings=settings), level_var="MF_USERS_LOG_LEVEL")


if __name__ == "__main__":
    main()
