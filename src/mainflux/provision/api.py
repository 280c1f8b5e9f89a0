"""The HTTP API of provision: ``POST /mapping`` (Mainflux's ``MF_PROVISION_HTTP_PORT``).

As in Mainflux the body must be sent as exactly ``application/json`` (415 otherwise)
and the ``Authorization`` header is optional (the service falls back to its API key or
login). Unlike Mainflux, a failure answers its error status with ``{"error": ...}``:
400 for missing or malformed fields (Mainflux: 500), 403 for refused credentials,
409 for an external id bootstrap already has, 503 when a service cannot be reached
(Mainflux: 201 with an ``error`` field). Success is 201 with ``things``, ``channels``
and ``whitelisted``."""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.core import http
from mainflux.core.endpoints import OPTIONAL_USER, Endpoint, Reply
from mainflux.core.errors import Conflict, UnsupportedContentType
from mainflux.provision.models import Entity
from mainflux.provision.service import MAX_EXTERNAL, Service

Bounded = Annotated[str, msgspec.Meta(max_length=MAX_EXTERNAL)]
Required = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EXTERNAL)]


class MappingRequest(msgspec.Struct, kw_only=True):
    """The gateway to provision: its bootstrap external id and key, and a name for its
    things (else the template's names)."""

    external_id: Annotated[Required, msgspec.Meta(examples=["aa:bb:cc:dd"])]
    external_key: Annotated[Required, msgspec.Meta(examples=["a-secret"])]
    name: Bounded | None = None


class ProvisionedThing(msgspec.Struct):
    """A thing created, with its key; a gateway's metadata has `type` `gateway`,
    `external_id`, `cfg_id` and the ids of its control, data and export channels."""

    id: str
    name: str
    key: str
    metadata: dict[str, Any]


class ProvisionedChannel(msgspec.Struct):
    """A channel created."""

    id: str
    name: str
    metadata: dict[str, Any]


class MappingResult(msgspec.Struct):
    """What the mapping created; `whitelisted` holds the ids of the things whose config
    was made Active."""

    things: list[ProvisionedThing]
    channels: list[ProvisionedChannel]
    whitelisted: dict[str, bool]


def _thing_view(thing: Entity) -> ProvisionedThing:
    return ProvisionedThing(thing.id, thing.name, thing.key, thing.metadata)


def _channel_view(channel: Entity) -> ProvisionedChannel:
    return ProvisionedChannel(channel.id, channel.name, channel.metadata)


async def _exactly_json(request: Request) -> None:
    if request.headers.get("content-type", "") != http.JSON:
        raise UnsupportedContentType()


EXACT_JSON: Final = "The Content-Type header is not exactly application/json."


def create_app(service: Service) -> Starlette:
    """The provision app (service name ``provision``)."""

    async def mapping(request: Request, body: MappingRequest) -> Response:
        """Creates a gateway's things and channels from the service's template, adds
        and activates its bootstrap config, and writes the gateway metadata onto its
        thing; a failure undoes all of it. Without `Authorization` the service's own
        API key (`MF_PROVISION_API_KEY`) or login is used."""
        result = await service.mapping(
            http.auth_header(request), body.external_id, body.external_key, body.name or ""
        )
        view = MappingResult(
            [_thing_view(t) for t in result.things],
            [_channel_view(c) for c in result.channels],
            result.whitelisted,
        )
        return http.json_response(view, 201)

    routes = [
        Endpoint(
            "POST",
            "/mapping",
            mapping,
            summary="Provision a gateway",
            tags=("provision",),
            body=MappingRequest,
            body_example={"external_id": "aa:bb:cc:dd", "external_key": "a-secret"},
            check_content_type=False,
            before=_exactly_json,
            security=OPTIONAL_USER,
            ok=Reply(201, "Provisioned.", MappingResult),
            errors={
                403: "Invalid credentials, or none and no fallback configured.",
                409: "Bootstrap already has a config with this external id.",
                415: EXACT_JSON,
                503: "A service (things, bootstrap, users) cannot be reached.",
            },
        )
    ]
    return http.create_app(
        "provision", routes, error_status={Conflict: 409}, title="Mainflux provision"
    )
