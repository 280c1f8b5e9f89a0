"""The platform client of provision: the users, things and bootstrap HTTP APIs.

In microservices each has its own base URL (``MF_PROVISION_USERS_LOCATION``,
``MF_PROVISION_THINGS_LOCATION``, ``MF_PROVISION_BS_SVC_URL``); the all-in-one hands
it the gateway as an in-process ASGI transport."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from mainflux.core.errors import (
    MainfluxError,
    ServiceUnavailable,
    Unauthorized,
)
from mainflux.core.remote import call_service
from mainflux.provision.models import Entity, EntitySpec, Metadata
from mainflux.provision.ports import Platform


def bootstrap_base(url: str) -> str:
    """The bootstrap base ``.../things``: Mainflux ships ``MF_PROVISION_BS_SVC_URL`` as
    ``http://localhost:8202/things/configs``, so a trailing ``/configs`` is dropped."""
    return url.rstrip("/").removesuffix("/configs")


class HttpPlatform:
    """A :class:`~mainflux.provision.ports.Platform` over HTTP; ``transport`` replaces
    the network (the all-in-one's gateway)."""

    def __init__(
        self,
        users_url: str,
        things_url: str,
        bootstrap_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._users = users_url.rstrip("/")
        self._things = things_url.rstrip("/")
        self._bootstrap = bootstrap_base(bootstrap_url)
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def _call(
        self, method: str, url: str, token: str = "", body: Any = None, ok: tuple[int, ...] = ()
    ) -> httpx.Response:
        host = url.split("/")[2]
        return await call_service(
            self._client, method, url, service=host, token=token, body=body, ok=ok
        )

    async def login(self, email: str, password: str) -> str:
        """A token for the configured user; refused credentials are ``Unauthorized``."""
        body = {"email": email, "password": password}
        try:
            response = await self._call("POST", f"{self._users}/tokens", body=body)
            return str(response.json()["token"])
        except ServiceUnavailable:
            raise
        except (MainfluxError, ValueError, KeyError, TypeError):
            raise Unauthorized("the provision user cannot log in") from None

    @staticmethod
    def _body(specs: Sequence[EntitySpec]) -> list[dict[str, Any]]:
        return [
            {"name": s.name, "metadata": s.metadata} if s.metadata else {"name": s.name}
            for s in specs
        ]

    @staticmethod
    def _entities(data: list[dict[str, Any]]) -> list[Entity]:
        return [
            Entity(
                id=str(item["id"]),
                name=str(item.get("name", "")),
                metadata=dict(item.get("metadata") or {}),
                key=str(item.get("key", "")),
            )
            for item in data
        ]

    async def create_things(self, token: str, specs: Sequence[EntitySpec]) -> list[Entity]:
        response = await self._call("POST", f"{self._things}/things/bulk", token, self._body(specs))
        return self._entities(response.json()["things"])

    async def create_channels(self, token: str, specs: Sequence[EntitySpec]) -> list[Entity]:
        response = await self._call(
            "POST", f"{self._things}/channels/bulk", token, self._body(specs)
        )
        return self._entities(response.json()["channels"])

    async def update_thing(self, token: str, thing_id: str, name: str, metadata: Metadata) -> None:
        url = f"{self._things}/things/{quote(thing_id, safe='')}"
        await self._call("PUT", url, token, {"name": name, "metadata": metadata})

    async def remove_thing(self, token: str, thing_id: str) -> None:
        await self._call("DELETE", f"{self._things}/things/{quote(thing_id, safe='')}", token)

    async def remove_channel(self, token: str, channel_id: str) -> None:
        await self._call("DELETE", f"{self._things}/channels/{quote(channel_id, safe='')}", token)

    async def add_config(self, token: str, config: dict[str, Any]) -> None:
        await self._call("POST", f"{self._bootstrap}/configs", token, config)

    async def remove_config(self, token: str, thing_id: str) -> None:
        url = f"{self._bootstrap}/configs/{quote(thing_id, safe='')}"
        await self._call("DELETE", url, token)

    async def whitelist(self, token: str, thing_id: str) -> None:
        url = f"{self._bootstrap}/state/{quote(thing_id, safe='')}"
        await self._call("PUT", url, token, {"state": 1})

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()


_check: type[Platform] = HttpPlatform
