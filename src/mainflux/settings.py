"""Settings of the all-in-one process (``mainflux run``).

Each comes from an ``MF_*`` variable or the matching flag of ``mainflux run``
(``mainflux run --help`` lists them with their defaults); every default needs nothing
installed: SQLite in the data directory, the embedded event log, the in-process bus.
With ``MF_NATS_URL`` the message writer reads a durable JetStream consumer, configured by
the ``MF_POSTGRES_WRITER_*`` variables of ``mainflux-postgres-writer`` (its own consumer
name by default: :data:`WRITER_DURABLE`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mainflux.adapters.coap.resource import DEFAULT_MAX_PAYLOAD
from mainflux.adapters.coap.settings import ObserveTuning
from mainflux.bootstrap.settings import check_encrypt_key
from mainflux.core import settings as declared
from mainflux.core.config import ConfigError, check_secret
from mainflux.core.datadir import write_private
from mainflux.core.settings import (
    log_level_setting,
    nested,
    port_setting,
    server_tls_setting,
    setting,
    url_with_scheme,
)
from mainflux.core.tls import ServerTLS
from mainflux.events.retention import RetentionSettings
from mainflux.things.cache import DEFAULT_TTL
from mainflux.users.links import check_reset_url, reset_url
from mainflux.writers.settings import JetStreamSettings, durable_setting

#: The file in the data directory that keeps the generated signing secret.
SECRET_FILE: Final = "authn.secret"
BOOTSTRAP_KEY_FILE: Final = "bootstrap.key"
#: Random bytes in a generated secret (it is stored base64url-encoded: 43 characters).
SECRET_RANDOM_BYTES: Final = 32
#: The all-in-one writer's durable JetStream consumer (with ``MF_NATS_URL``): not the
#: ``postgres-writer`` of a separate ``mainflux-postgres-writer`` on the same NATS.
WRITER_DURABLE: Final = "mainflux-allinone"


def _encrypt_key_or_empty(value: str) -> None:
    if value:
        check_encrypt_key(value)


def _directory_or_absent(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a directory")


@dataclass(frozen=True, slots=True)
class AllInOneSettings:
    """What ``mainflux run`` needs to know; see :func:`load`."""

    host: str = setting(
        "MF_GATEWAY_HOST", "0.0.0.0", "address the gateway, MQTT and CoAP listen on"
    )
    gateway_port: int = port_setting("MF_GATEWAY_PORT", 8080, "gateway port (HTTP, WebSocket)")
    mqtt_port: int = port_setting("MF_MQTT_ADAPTER_MQTT_PORT", 1883, "MQTT port")
    coap_port: int = port_setting("MF_COAP_ADAPTER_PORT", 5683, "CoAP port (UDP)")
    coap_max_payload: int = setting(
        "MF_COAP_ADAPTER_MAX_PAYLOAD",
        DEFAULT_MAX_PAYLOAD,
        "largest CoAP message in bytes, block-wise included; 4.13 above",
        minimum=1,
    )
    coap_observe: ObserveTuning = nested(ObserveTuning)
    data_dir: Path = setting(
        "MF_DATA_DIR",
        Path("./data"),
        "data directory (SQLite database, signing secret, mail outbox)",
        shown="./data",
        check=_directory_or_absent,
    )
    db_url: str = setting(
        "MF_DB_URL",
        "",
        "PostgreSQL URL instead of SQLite",
        check=url_with_scheme("postgresql", "postgresql+asyncpg", "sqlite+aiosqlite"),
        secret=True,
    )
    redis_url: str = setting(
        "MF_REDIS_URL",
        "",
        "Redis URL for events and the access cache instead of the embedded log",
        check=url_with_scheme("redis", "rediss", "unix"),
        secret=True,
    )
    nats_url: str = setting(
        "MF_NATS_URL",
        "",
        "NATS URL (with JetStream: nats-server -js) instead of the in-process bus",
        check=url_with_scheme("nats", "tls"),
        secret=True,
    )
    writer_durable: str = durable_setting(
        WRITER_DURABLE,
        "with MF_NATS_URL: the writer's durable JetStream consumer (instances sharing "
        "it share the messages)",
    )
    writer_jetstream: JetStreamSettings = nested(JetStreamSettings)
    authn_secret: str = setting(
        "MF_AUTHN_SECRET",
        "",
        f"signing secret (unset: generated into MF_DATA_DIR/{SECRET_FILE})",
        secret=True,
    )
    gateway_tls: ServerTLS | None = server_tls_setting("GATEWAY", "HTTPS and WSS on the gateway")
    cache_ttl: int = setting(
        "MF_THINGS_CACHE_TTL", DEFAULT_TTL, "seconds a Redis access cache entry lives", minimum=1
    )
    configured_reset_url: str = setting(
        "MF_USERS_RESET_URL",
        "",
        "http(s) URL reset links point at; unset: the gateway's /password/reset",
        shown="(gateway page)",
        check=check_reset_url,
    )
    bootstrap_encrypt_key: str = setting(
        "MF_BOOTSTRAP_ENCRYPT_KEY",
        "",
        "AES key of secure bootstrap, hex (32, 48 or 64 digits)",
        shown=f"(random, kept in <data dir>/{BOOTSTRAP_KEY_FILE})",
        check=_encrypt_key_or_empty,
        secret=True,
    )
    log_level: str = log_level_setting("MF_LOG_LEVEL")
    events_retention: RetentionSettings = nested(RetentionSettings)

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file used when no ``MF_DB_URL`` is set."""
        return self.data_dir / "mainflux.db"

    @property
    def secret_path(self) -> Path:
        """The file keeping the generated signing secret when ``MF_AUTHN_SECRET`` is unset."""
        return self.data_dir / SECRET_FILE

    @property
    def bootstrap_key_path(self) -> Path:
        """The file keeping the generated secure-bootstrap key when
        ``MF_BOOTSTRAP_ENCRYPT_KEY`` is unset."""
        return self.data_dir / BOOTSTRAP_KEY_FILE

    @property
    def mail_dir(self) -> Path:
        """The outbox of password-reset mails."""
        return self.data_dir / "mail"

    @property
    def reset_url(self) -> str:
        """The page password-reset links point at: ``MF_USERS_RESET_URL``, else the
        gateway's ``/password/reset``."""
        return reset_url(
            self.host,
            self.gateway_port,
            tls=self.gateway_tls is not None,
            configured=self.configured_reset_url,
        )


def load(
    overrides: Mapping[str, str | int | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> AllInOneSettings:
    """Read the settings; ``overrides`` (flag values by variable name) win over the env.

    Raises ``ConfigError`` naming the setting whose value cannot be used."""
    merged = dict(os.environ if environ is None else environ)
    for key, value in (overrides or {}).items():
        if value is not None and value != "":
            merged[key] = str(value)
    return declared.load(AllInOneSettings, merged)


def ensure_bootstrap_key(settings: AllInOneSettings) -> str:
    """The secure-bootstrap AES key (hex): ``MF_BOOTSTRAP_ENCRYPT_KEY``, else the one kept
    in the data directory's ``bootstrap.key`` (16 random bytes generated on first start,
    mode 0600), so no published default key is ever used.

    Raises ``ConfigError`` naming the file when it cannot be written or read, or holds
    no valid key."""
    if settings.bootstrap_encrypt_key:
        return settings.bootstrap_encrypt_key
    path = settings.bootstrap_key_path
    try:
        write_private(path, secrets.token_hex(16))
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the bootstrap key: {exc.strerror}") from None
    try:
        key = path.read_text().strip()
        check_encrypt_key(key)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(
            f"{path}: not a bootstrap key: {reason} (remove the file to generate a new one)"
        ) from None
    return key


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
