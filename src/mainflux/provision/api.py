"""The HTTP API of provision: ``POST /mapping`` (Mainflux's ``MF_PROVISION_HTTP_PORT``).

As in Mainflux the body must be sent as exactly ``application/json`` (415 otherwise)
and the ``Authorization`` header is optional (the service falls back to its API key or
login). Unlike Mainflux, a failure answers its error status with ``{"error": ...}``:
400 for missing or malformed fields (Mainflux: 500), 403 for refused credentials,
409 for an external id bootstrap already has, 503 when a service cannot be reached
(Mainflux: 201 with an ``error`` field). Success is 201 with ``things``, ``channels``
and ``whitelisted``."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core import http
from mainflux.core.errors import Conflict, MalformedEntity, UnsupportedContentType
from mainflux.provision.models import Entity
from mainflux.provision.service import Service


def _thing_view(thing: Entity) -> dict[str, Any]:
    return {"id": thing.id, "name": thing.name, "key": thing.key, "metadata": thing.metadata}


def _channel_view(channel: Entity) -> dict[str, Any]:
    return {"id": channel.id, "name": channel.name, "metadata": channel.metadata}


def _string(data: dict[str, Any], field: str) -> str:
    value = data.get(field, "")
    if not isinstance(value, str):
        raise MalformedEntity(f"{field} must be a string")
    return value


def create_app(service: Service) -> Starlette:
    """The provision app (service name ``provision``)."""

    async def mapping(request: Request) -> Response:
        if request.headers.get("content-type", "") != http.JSON:
            raise UnsupportedContentType()
        data = await http.read_json_object(request, check_content_type=False)
        result = await service.mapping(
            http.auth_header(request),
            _string(data, "external_id"),
            _string(data, "external_key"),
            _string(data, "name"),
        )
        body = {
            "things": [_thing_view(t) for t in result.things],
            "channels": [_channel_view(c) for c in result.channels],
            "whitelisted": result.whitelisted,
        }
        return http.json_response(body, 201)

    routes = [Route("/mapping", mapping, methods=["POST"], include_in_schema=False)]
    return http.create_app("provision", routes, error_status={Conflict: 409})
