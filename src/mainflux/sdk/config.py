"""Where each service of the platform answers, as Mainflux's SDK configures it: a base
URL plus a prefix per service, or a URL of its own for any service.

* All-in-one (``mainflux run``): ``Config("http://localhost:8080")``; every API is
  behind the gateway, the HTTP adapter under ``/http`` and WebSocket under ``/ws``.
* Microservices on their default ports: ``Config.microservices("localhost")``.
* Go Mainflux behind its nginx: ``Config("http://host", reader_url="http://host:9204",
  authn_url="http://host:8189", bootstrap_url="http://host:8202")``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final, Literal

Service = Literal["users", "authn", "things", "http", "ws", "reader", "bootstrap", "provision"]

#: Default ports of each service run on its own (Mainflux's docker ``.env``).
SERVICE_PORTS: Final[dict[Service, int]] = {
    "users": 8180,
    "authn": 8189,
    "things": 8182,
    "http": 8185,
    "ws": 8186,
    "reader": 9204,
    "bootstrap": 8202,
    "provision": 8190,
}

#: The message content type Mainflux's SDK and CLI send by default.
SENML_JSON: Final = "application/senml+json"


@dataclass(frozen=True, slots=True)
class Config:
    """How to reach the platform. A service's URL is its own ``<service>_url`` when
    set, else ``base_url`` followed by ``<service>_prefix``."""

    base_url: str = "http://localhost:8080"
    users_prefix: str = ""
    authn_prefix: str = ""
    things_prefix: str = ""
    http_prefix: str = "http"
    ws_prefix: str = "ws"
    reader_prefix: str = ""
    bootstrap_prefix: str = ""
    provision_prefix: str = ""
    users_url: str | None = None
    authn_url: str | None = None
    things_url: str | None = None
    http_url: str | None = None
    ws_url: str | None = None
    reader_url: str | None = None
    bootstrap_url: str | None = None
    provision_url: str | None = None
    #: Content type of messages sent (``send_message``) unless a call says otherwise.
    content_type: str = SENML_JSON
    #: ``False`` skips TLS verification; a path names a CA bundle.
    verify: bool | str = True
    #: Seconds to wait for a connection or an answer.
    timeout: float = 10.0

    @classmethod
    def microservices(cls, host: str = "localhost", scheme: str = "http", **more: object) -> Config:
        """Every service on its own default port (:data:`SERVICE_PORTS`) of ``host``."""
        ws = "wss" if scheme == "https" else "ws"
        urls = {
            f"{name}_url": f"{ws if name == 'ws' else scheme}://{host}:{port}"
            for name, port in SERVICE_PORTS.items()
        }
        return cls(base_url=f"{scheme}://{host}", **{**urls, **more})  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Config:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def url(self, service: Service, path: str = "") -> str:
        """The URL of ``path`` (starting with ``/``) on ``service``."""
        own = getattr(self, f"{service}_url")
        if own:
            root = own.rstrip("/")
        else:
            prefix = getattr(self, f"{service}_prefix").strip("/")
            root = self.base_url.rstrip("/") + (f"/{prefix}" if prefix else "")
            if service == "ws":
                root = _ws_scheme(root)
        return root + path


def _ws_scheme(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url
