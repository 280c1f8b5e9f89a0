"""Settings of the all-in-one process (``mainflux run``).

Each comes from an ``MF_*`` variable or the matching flag of ``mainflux run``; every
default needs nothing installed: SQLite in the data directory, the embedded event log,
the in-process bus."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mainflux.core.config import ConfigError, env, env_port, env_url
from mainflux.core.tls import ServerTLS, server_tls


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
    authn_secret: str
    gateway_tls: ServerTLS | None = None

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no ``MF_DB_URL`` is set."""
        return self.data_dir / "mainflux.db"


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
    )


def ensure_secret(settings: AllInOneSettings) -> str:
    """The signing secret: ``MF_AUTHN_SECRET``, else one generated once and kept in the
    data directory (mode 0600), so tokens survive restarts and no default secret is used."""
    if settings.authn_secret:
        return settings.authn_secret
    path = settings.data_dir / "authn.secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret
