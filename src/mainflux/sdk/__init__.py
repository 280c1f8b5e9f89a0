"""The Python SDK of Mainflux: blocking and asyncio clients of every HTTP API.

>>> from mainflux.sdk import Client
>>> with Client("http://localhost:8080") as mf:          # doctest: +SKIP
...     token = mf.create_token("me@example.com", "12345678")
...     thing_id = mf.create_thing(token, name="sensor")

See ``docs/sdk.md`` for every call."""

from mainflux.sdk.client import AsyncClient, Client
from mainflux.sdk.config import SERVICE_PORTS, Config
from mainflux.sdk.errors import (
    BadRequest,
    Conflict,
    MainfluxError,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    Unreachable,
    UnsupportedMediaType,
)
from mainflux.sdk.models import (
    ApiKey,
    BootstrapConfig,
    Channel,
    Health,
    KeyInfo,
    Message,
    Page,
    PlatformInfo,
    Provisioned,
    Thing,
    UnknownConfig,
    User,
    Version,
)

__all__ = [
    "SERVICE_PORTS",
    "ApiKey",
    "AsyncClient",
    "BadRequest",
    "BootstrapConfig",
    "Channel",
    "Client",
    "Config",
    "Conflict",
    "Health",
    "KeyInfo",
    "MainfluxError",
    "Message",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PlatformInfo",
    "Provisioned",
    "ServerError",
    "ServiceUnavailable",
    "Thing",
    "TooManyRequests",
    "Unauthorized",
    "UnknownConfig",
    "Unreachable",
    "UnsupportedMediaType",
    "User",
    "Version",
]
