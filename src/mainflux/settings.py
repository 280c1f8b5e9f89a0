"""Settings of the all-in-one process (``mainflux run``).

Each comes from an ``MF_*`` variable or the matching flag of ``mainflux run``; every
default needs nothing installed: SQLite in the data directory, the embedded event log,
the in-process bus."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mainflux.core.config import ConfigError, check_secret, env, env_int, env_port, env_url
from mainflux.core.datadir import write_private
from mainflux.core.tls import ServerTLS, server_tls
from mainflux.things.cache import DEFAULT_TTL

#: The file in the data directory that keeps the generated signing secret.
SECRET_FILE: Final = "authn.secret"
#: Random bytes in a generated secret (it is stored base64url-encoded: 43 characters).
SECRET_RANDOM_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class AllInOneSettings:
    """What ``mainflux run`` needs to know; see :func:`load`."""

    host: str
    gateway_port: int
    mqtt_port: int
    data_dir: Path
    db_url: str
    redis_url: str
    nats_url: str
    authn_secret: str = field(repr=False)
    gateway_tls: ServerTLS | None = None
    cache_ttl: int = DEFAULT_TTL

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no ``MF_DB_URL`` is set."""
        return self.data_dir / "mainflux.db"

    @property
    def secret_path(self) -> Path:
        """The file keeping the generated signing secret when ``MF_AUTHN_SECRET`` is unset."""
        return self.data_dir / SECRET_FILE

    @property
    def mail_dir(self) -> Path:
        """The outbox of password-reset mails."""
        return self.data_dir / "mail"


def load(
    overrides: Mapping[str, str | int | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AllInOneSettings:
    """Read the settings; ``overrides`` (flag values by variable name) win over the env.

    Raises ``ConfigError`` naming the setting whose value cannot be used."""
    merged = dict(environ if environ is not None else __import__("os").environ)
    for key, value in (overrides or {}).items():
        if value is not None and value != "":
            merged[key] = str(value)
    data_dir = Path(env("MF_DATA_DIR", "./data", merged)).expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"MF_DATA_DIR: {data_dir} exists and is not a directory")
    db_url = env_url(
        "MF_DB_URL", "", ("postgresql", "postgresql+asyncpg", "sqlite+aiosqlite"), merged
    )
    return AllInOneSettings(
        host=env("MF_GATEWAY_HOST", "0.0.0.0", merged),
        gateway_port=env_port("MF_GATEWAY_PORT", 8080, merged),
        mqtt_port=env_port("MF_MQTT_ADAPTER_MQTT_PORT", 1883, merged),
        data_dir=data_dir,
        db_url=db_url,
        redis_url=env_url("MF_REDIS_URL", "", ("redis", "rediss", "unix"), merged),
        nats_url=env_url("MF_NATS_URL", "", ("nats", "tls"), merged),
        authn_secret=env("MF_AUTHN_SECRET", "", merged),
        gateway_tls=server_tls("GATEWAY", merged),
        cache_ttl=env_int("MF_THINGS_CACHE_TTL", DEFAULT_TTL, minimum=1, environ=merged),
    )


def ensure_secret(settings: AllInOneSettings) -> str:
    """The signing secret: ``MF_AUTHN_SECRET``, else the one kept in the data directory's
    ``authn.secret`` (generated from 32 random bytes on first start, mode 0600), so tokens
    survive restarts and no default secret is ever used.

    Raises ``ConfigError`` naming ``MF_AUTHN_SECRET`` or the file when the secret is empty
    or shorter than 32 bytes, or when the file cannot be read."""
    if settings.authn_secret:
        return check_secret("MF_AUTHN_SECRET", settings.authn_secret)
    path = settings.secret_path
    try:
        write_private(path, secrets.token_urlsafe(SECRET_RANDOM_BYTES))
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the signing secret: {exc.strerror}") from None
    try:
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        raise ConfigError(f"{path}: cannot read the signing secret: {reason}") from None
    try:
        return check_secret(str(path), secret)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (remove the file to generate a new one)") from None
