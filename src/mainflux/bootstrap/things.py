"""The things client of bootstrap: Mainflux's things HTTP API, with the user's token.

In microservices it calls ``MF_SDK_BASE_URL`` over the network, as Mainflux's SDK
does; the all-in-one hands it the things app as an in-process ASGI transport, so the
same code runs without a socket."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import quote

import httpx

from mainflux.bootstrap.models import ConfigChannel
from mainflux.bootstrap.ports import ThingsClient
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.remote import call_service


class HttpThingsClient:
    """A :class:`~mainflux.bootstrap.ports.ThingsClient` on ``<base_url>/things`` and
    ``/channels``; each call bounded by ``timeout`` seconds. ``transport`` replaces the
    network (the all-in-one's in-process app); ``verify`` checks an ``https`` URL."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, verify=verify
        )

    async def _call(
        self, method: str, path: str, token: str, body: Any = None, ok: tuple[int, ...] = ()
    ) -> httpx.Response:
        return await call_service(
            self._client, method, path, service="the things service", token=token, body=body, ok=ok
        )

    async def create_thing(self, token: str, name: str) -> tuple[str, str]:
        body = {"name": name} if name else {}
        response = await self._call("POST", "/things", token, body)
        thing_id = response.headers.get("location", "").rsplit("/", 1)[-1]
        if not thing_id:
            raise ServiceUnavailable("things service gave no Location")
        return thing_id, await self.thing_key(token, thing_id)

    async def thing_key(self, token: str, thing_id: str) -> str:
        response = await self._call("GET", f"/things/{quote(thing_id, safe='')}", token)
        try:
            return str(response.json()["key"])
        except (ValueError, KeyError, TypeError):
            raise ServiceUnavailable("things service answered an unreadable thing") from None

    async def remove_thing(self, token: str, thing_id: str) -> None:
        await self._call("DELETE", f"/things/{quote(thing_id, safe='')}", token, ok=(404,))

    async def channel(self, token: str, channel_id: str) -> ConfigChannel:
        response = await self._call("GET", f"/channels/{quote(channel_id, safe='')}", token)
        try:
            data = response.json()
            metadata = data.get("metadata")
            return ConfigChannel(
                id=str(data["id"]),
                name=str(data.get("name") or ""),
                metadata=metadata if isinstance(metadata, dict) else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ServiceUnavailable("things service answered an unreadable channel") from None

    async def connect(self, token: str, channel_id: str, thing_id: str) -> None:
        path = f"/channels/{quote(channel_id, safe='')}/things/{quote(thing_id, safe='')}"
        await self._call("PUT", path, token, ok=(422,))

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        path = f"/channels/{quote(channel_id, safe='')}/things/{quote(thing_id, safe='')}"
        await self._call("DELETE", path, token, ok=(404,))

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


_check: type[ThingsClient] = HttpThingsClient
