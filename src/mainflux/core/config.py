"""Reading settings from ``MF_*`` environment variables.

Mainflux treats an empty value as unset; so do we. A value that does not parse stops
start-up with a :class:`ConfigError` naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

from mainflux.core.redact import redact_url

#: The shortest signing secret accepted (bytes of its UTF-8 text): 256 bits for HS256.
MIN_SECRET_BYTES: Final = 32


class ConfigError(Exception):
    """A setting has a value that cannot be used; the message names the setting."""


def env(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Return the variable's value, or ``default`` when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(name, "")
    return value if value != "" else default


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Return the variable as an integer within ``[minimum, maximum]``."""
    raw = env(name, "", environ)
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: must be at most {maximum}, got {value}")
    return value


def env_float(
    name: str, default: float, *, minimum: float = 0.0, environ: Mapping[str, str] | None = None
) -> float:
    """Return the variable as a float no smaller than ``minimum``."""
    raw = env(name, "", environ)
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def env_port(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """Return the variable as a TCP/UDP port number."""
    return env_int(name, default, minimum=0, maximum=65535, environ=environ)


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Return the variable as a boolean (``true``/``false``, ``1``/``0``, ``yes``/``no``)."""
    raw = env(name, "", environ).lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def env_url(
    name: str, default: str, schemes: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> str:
    """Return the variable as a URL whose scheme is one of ``schemes``."""
    value = env(name, default, environ)
    if value and not value.startswith(tuple(f"{s}://" for s in schemes)):
        shown = redact_url(value)
        raise ConfigError(f"{name}: expected a {'/'.join(schemes)} URL, got {shown!r}")
    return value


def check_secret(name: str, value: str) -> str:
    """Return ``value`` when it is a usable signing secret (at least
    :data:`MIN_SECRET_BYTES` bytes); else raise ``ConfigError`` naming ``name``, which
    may be a variable or a file."""
    if not value:
        raise ConfigError(
            f"{name}: empty; a signing secret of at least {MIN_SECRET_BYTES} bytes is needed"
        )
    size = len(value.encode())
    if size < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{name}: too short ({size} bytes); a signing secret needs at least "
            f"{MIN_SECRET_BYTES} bytes"
        )
    return value


def env_secret(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Return the variable as a signing secret; unset, empty or shorter than
    :data:`MIN_SECRET_BYTES` bytes is a ``ConfigError`` (there is no default secret)."""
    value = env(name, "", environ)
    if not value:
        raise ConfigError(
            f"{name}: not set; give it a random value of at least {MIN_SECRET_BYTES} bytes "
            "(e.g. `openssl rand -base64 32`)"
        )
    return check_secret(name, value)


def postgres_url(prefix: str, database: str, environ: Mapping[str, str] | None = None) -> str:
    """Build an asyncpg URL from Mainflux's ``MF_<PREFIX>_DB_*`` variables.

    ``prefix`` is e.g. ``THINGS`` and ``database`` the default database name."""
    host = env(f"MF_{prefix}_DB_HOST", "localhost", environ)
    port = env_port(f"MF_{prefix}_DB_PORT", 5432, environ)
    user = env(f"MF_{prefix}_DB_USER", "mainflux", environ)
    password = env(f"MF_{prefix}_DB_PASS", "mainflux", environ)
    name = env(f"MF_{prefix}_DB", database, environ)
    ssl = env(f"MF_{prefix}_DB_SSL_MODE", "disable", environ)
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    url = f"postgresql+asyncpg://{auth}@{host}:{port}/{quote(name, safe='')}"
    return url if ssl == "disable" else f"{url}?ssl={ssl}"


def redis_url(
    prefix: str, default_host: str = "localhost:6379", environ: Mapping[str, str] | None = None
) -> str:
    """Build a ``redis://`` URL from Mainflux's ``<PREFIX>_URL``/``_PASS``/``_DB`` triple.

    ``prefix`` is e.g. ``MF_THINGS_ES``; the URL variable holds ``host:port``."""
    address = env(f"{prefix}_URL", default_host, environ)
    if address.startswith("redis://"):
        return address
    password = env(f"{prefix}_PASS", "", environ)
    db = env_int(f"{prefix}_DB", 0, minimum=0, environ=environ)
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{address}/{db}"
