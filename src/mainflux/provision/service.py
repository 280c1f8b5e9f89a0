"""The business rules of provision: one mapping creates a gateway's whole setup.

For a request ``(external_id, external_key, name?)`` and the template, the service:

1. creates the template's things (a thing whose metadata has ``external_id`` gets the
   request's; every thing is named after the request, else the template) and channels;
2. for each thing with ``external_id`` metadata: adds a bootstrap config with every
   created channel (when bootstrap provisioning is on), makes it Active (when
   auto-whitelisting is on), and writes the gateway metadata onto the thing:
   ``type`` ``gateway``, ``external_id``, ``cfg_id`` and the ``ctrl``/``data``/``export``
   channel ids, picked by the channels' metadata ``type``.

Any failure undoes what this call created (configs, things, channels) and raises the
error, so the client gets an error status, never a half-made gateway. The gateway
metadata leaves out Mainflux's ``external_key``: thing metadata travels in the
``mainflux.things`` events, and a key must not."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from mainflux.core.errors import MalformedEntity, Unauthorized
from mainflux.provision.models import Entity, EntitySpec, Mapping, Template
from mainflux.provision.ports import Platform

MAX_EXTERNAL: Final = 1024
_CHANNEL_TYPES: Final = {
    "control": "ctrl_channel_id",
    "data": "data_channel_id",
    "export": "export_channel_id",
}

log = logging.getLogger("mainflux.provision")


class Service(Protocol):
    """What the provision HTTP face takes."""

    async def mapping(
        self, token: str, external_id: str, external_key: str, name: str = ""
    ) -> Mapping:
        """Provision a gateway; return what was created."""
        ...


class ProvisionService:
    """Provision over the platform's APIs. A call without a token uses ``api_key``,
    else a login with ``user``/``password``; with none of them it is ``Unauthorized``."""

    def __init__(
        self,
        platform: Platform,
        template: Template,
        *,
        api_key: str = "",
        user: str = "",
        password: str = "",
    ) -> None:
        self._platform = platform
        self._template = template
        self._api_key = api_key
        self._user = user
        self._password = password

    async def _token(self, token: str) -> str:
        if token:
            return token
        if self._api_key:
            return self._api_key
        if self._user and self._password:
            return await self._platform.login(self._user, self._password)
        raise Unauthorized()

    async def mapping(
        self, token: str, external_id: str, external_key: str, name: str = ""
    ) -> Mapping:
        if not external_id or not external_key:
            raise MalformedEntity("external_id and external_key are required")
        if (
            len(external_id) > MAX_EXTERNAL
            or len(external_key) > MAX_EXTERNAL
            or len(name) > MAX_EXTERNAL
        ):
            raise MalformedEntity(
                f"external_id, external_key and name have at most {MAX_EXTERNAL} characters"
            )
        token = await self._token(token)
        specs = []
        for spec in self._template.things:
            metadata = dict(spec.metadata)
            if "external_id" in metadata:
                metadata["external_id"] = external_id
            specs.append(EntitySpec(name or spec.name, metadata))
        result = Mapping()
        configs: list[str] = []
        try:
            result.things = await self._platform.create_things(token, specs)
            if self._template.channels:
                result.channels = await self._platform.create_channels(
                    token, self._template.channels
                )
            for thing in result.things:
                if "external_id" not in thing.metadata:
                    continue
                if self._template.bootstrap_provision:
                    await self._platform.add_config(
                        token,
                        {
                            "thing_id": thing.id,
                            "external_id": external_id,
                            "external_key": external_key,
                            "channels": [c.id for c in result.channels],
                            "name": thing.name,
                            "content": self._template.bootstrap_content,
                        },
                    )
                    configs.append(thing.id)
                if self._template.auto_whitelist:
                    await self._platform.whitelist(token, thing.id)
                    result.whitelisted[thing.id] = True
                thing.metadata = {
                    **thing.metadata,
                    **self._gateway(thing, external_id, result.channels),
                }
                await self._platform.update_thing(token, thing.id, thing.name, thing.metadata)
        except BaseException:
            await self._rollback(token, result, configs)
            raise
        return result

    @staticmethod
    def _gateway(thing: Entity, external_id: str, channels: list[Entity]) -> dict[str, str]:
        metadata = {"type": "gateway", "external_id": external_id, "cfg_id": thing.id}
        for channel in channels:
            field = _CHANNEL_TYPES.get(str(channel.metadata.get("type", "")))
            if field and field not in metadata:
                metadata[field] = channel.id
        return metadata

    async def _rollback(self, token: str, result: Mapping, configs: list[str]) -> None:
        """Remove what this call created, best effort (each failure is logged)."""
        steps: list[tuple[Callable[[str, str], Awaitable[None]], str]]
        steps = [(self._platform.remove_config, thing_id) for thing_id in configs]
        steps += [(self._platform.remove_thing, thing.id) for thing in result.things]
        steps += [(self._platform.remove_channel, channel.id) for channel in result.channels]
        for remove, entity_id in steps:
            try:
                await remove(token, entity_id)
            except Exception as exc:
                log.error("rollback: cannot remove %s: %s", entity_id, type(exc).__name__)


_check: type[Service] = ProvisionService
