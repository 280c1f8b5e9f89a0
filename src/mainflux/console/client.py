"""The console's one way to the platform: its own HTTP APIs, called with the user's token.

The same client serves both deployments: in the all-in-one its transport is the gateway
app itself (in process, no socket), for ``mainflux-ui`` each service's URL. A failed
call raises :class:`ApiError` with the status and the service's own message."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import httpx

#: Seconds a console call to a service may take.
TIMEOUT: Final = 10.0


class ApiError(Exception):
    """A service refused a call: ``status`` and the service's ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ServiceUrls:
    """Where each API answers (in the all-in-one, all are the gateway)."""

    users: str
    things: str
    authn: str
    reader: str
    #: Empty when this deployment has no bootstrap service (no bootstrap pages).
    bootstrap: str = ""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its items and paging."""

    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    text = response.text.strip()
    if text and len(text) < 300:
        return text
    return f"the service answered {response.status_code}"


class PlatformClient:
    """Calls users, authn, things and the reader over HTTP."""

    def __init__(self, urls: ServiceUrls, transport: httpx.AsyncBaseTransport | None = None):
        self._urls = urls
        self._http = httpx.AsyncClient(transport=transport, timeout=TIMEOUT)
        # httpx logs every request at INFO: one line per console call is noise.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    @property
    def has_bootstrap(self) -> bool:
        """Whether a bootstrap service is configured."""
        return bool(self._urls.bootstrap)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        url: str,
        token: str | None = None,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": token} if token else {}
        try:
            response = await self._http.request(
                method, url, json=body, params=params, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ApiError(503, f"the service cannot be reached: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _message(response))
        return response

    # users
    async def register(self, email: str, password: str) -> None:
        """Create an account."""
        await self._call(
            "POST", f"{self._urls.users}/users", None, {"email": email, "password": password}
        )

    async def login(self, email: str, password: str) -> str:
        """A login token for the account."""
        body = {"email": email, "password": password}
        response = await self._call("POST", f"{self._urls.users}/tokens", None, body)
        return str(response.json()["token"])

    async def user(self, token: str) -> dict[str, Any]:
        """The token's user (``email``, ``metadata``)."""
        return dict((await self._call("GET", f"{self._urls.users}/users", token)).json())

    async def change_password(self, token: str, old: str, new: str) -> None:
        """Change the user's password."""
        body = {"old_password": old, "password": new}
        await self._call("PATCH", f"{self._urls.users}/password", token, body)

    # authn
    async def issue_api_key(self, token: str, duration: int | None) -> dict[str, Any]:
        """A new API key (``id``, ``value``, ``issued_at``, ``expires_at``?)."""
        body: dict[str, Any] = {"type": 2}
        if duration:
            body["duration"] = duration
        return dict((await self._call("POST", f"{self._urls.authn}/keys", token, body)).json())

    async def api_key(self, token: str, key_id: str) -> dict[str, Any]:
        """An API key's record."""
        url = f"{self._urls.authn}/keys/{key_id}"
        return dict((await self._call("GET", url, token)).json())

    async def revoke_api_key(self, token: str, key_id: str) -> None:
        """Revoke an API key."""
        await self._call("DELETE", f"{self._urls.authn}/keys/{key_id}", token)

    # things and channels
    async def page(
        self, token: str, kind: str, offset: int = 0, limit: int = 10, name: str = ""
    ) -> Page:
        """A page of ``kind`` (``things`` or ``channels``), filtered by name."""
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if name:
            params["name"] = name
        body = (await self._call("GET", f"{self._urls.things}/{kind}", token, params=params)).json()
        return Page(body[kind], body["total"], body["offset"], body["limit"])

    async def view(self, token: str, kind: str, entity_id: str) -> dict[str, Any]:
        """One thing or channel."""
        url = f"{self._urls.things}/{kind}/{entity_id}"
        return dict((await self._call("GET", url, token)).json())

    async def create(self, token: str, kind: str, specs: list[dict[str, Any]]) -> list[dict]:
        """Create things or channels in one bulk call; return them."""
        url = f"{self._urls.things}/{kind}/bulk"
        return list((await self._call("POST", url, token, specs)).json()[kind])

    async def update(
        self, token: str, kind: str, entity_id: str, name: str, metadata: dict[str, Any] | None
    ) -> None:
        """Replace a thing's or channel's name and metadata."""
        body = {"name": name, "metadata": metadata}
        await self._call("PUT", f"{self._urls.things}/{kind}/{entity_id}", token, body)

    async def remove(self, token: str, kind: str, entity_id: str) -> None:
        """Remove a thing or channel."""
        await self._call("DELETE", f"{self._urls.things}/{kind}/{entity_id}", token)

    async def update_key(self, token: str, thing_id: str, key: str) -> None:
        """Give a thing a new key."""
        url = f"{self._urls.things}/things/{thing_id}/key"
        await self._call("PATCH", url, token, {"key": key})

    async def connections(
        self, token: str, kind: str, entity_id: str, offset: int = 0, limit: int = 100
    ) -> Page:
        """The channels of a thing (``kind="things"``) or the things of a channel."""
        other = "channels" if kind == "things" else "things"
        url = f"{self._urls.things}/{kind}/{entity_id}/{other}"
        params = {"offset": offset, "limit": limit}
        body = (await self._call("GET", url, token, params=params)).json()
        return Page(body[other], body["total"], body["offset"], body["limit"])

    async def connect(self, token: str, channel_id: str, thing_id: str) -> None:
        """Connect a thing to a channel."""
        body = {"channel_ids": [channel_id], "thing_ids": [thing_id]}
        await self._call("POST", f"{self._urls.things}/connect", token, body)

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        """Disconnect a thing from a channel."""
        url = f"{self._urls.things}/channels/{channel_id}/things/{thing_id}"
        await self._call("DELETE", url, token)

    # reader
    async def messages(self, token: str, channel_id: str, params: dict[str, str]) -> dict:
        """A page of a channel's stored messages (the reader's query parameters)."""
        url = f"{self._urls.reader}/channels/{channel_id}/messages"
        return dict((await self._call("GET", url, token, params=params)).json())

    # bootstrap
    async def configs(self, token: str, offset: int = 0, limit: int = 10, name: str = "") -> Page:
        """A page of the user's bootstrap configs, filtered by name."""
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if name:
            params["name"] = name
        url = f"{self._urls.bootstrap}/things/configs"
        body = (await self._call("GET", url, token, params=params)).json()
        return Page(body["configs"], body["total"], body["offset"], body["limit"])

    async def config(self, token: str, thing_id: str) -> dict[str, Any]:
        """One bootstrap config, with its channels (``mainflux_channels``)."""
        url = f"{self._urls.bootstrap}/things/configs/{thing_id}"
        return dict((await self._call("GET", url, token)).json())

    async def add_config(self, token: str, spec: dict[str, Any]) -> str:
        """Add a bootstrap config (its thing is created when ``thing_id`` is absent);
        return the thing's id."""
        url = f"{self._urls.bootstrap}/things/configs"
        response = await self._call("POST", url, token, spec)
        return response.headers.get("Location", "").rsplit("/", 1)[-1]

    async def update_config(self, token: str, thing_id: str, name: str, content: str) -> None:
        """Replace a config's name and content."""
        url = f"{self._urls.bootstrap}/things/configs/{thing_id}"
        await self._call("PUT", url, token, {"name": name, "content": content})

    async def update_config_channels(self, token: str, thing_id: str, channels: list[str]) -> None:
        """Replace a config's channels (an active config's connections follow)."""
        url = f"{self._urls.bootstrap}/things/configs/connections/{thing_id}"
        await self._call("PUT", url, token, {"channels": channels})

    async def change_state(self, token: str, thing_id: str, state: int) -> None:
        """Whitelist (1: connect the thing to the config's channels) or not (0)."""
        url = f"{self._urls.bootstrap}/things/state/{thing_id}"
        await self._call("PUT", url, token, {"state": state})
