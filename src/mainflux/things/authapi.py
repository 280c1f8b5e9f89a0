"""The things service's internal auth HTTP API (Mainflux's ``MF_THINGS_AUTH_HTTP_PORT``).

``POST /identify``, ``POST /channels/{id}/access-by-key`` and
``POST /channels/{id}/access-by-id``: an empty or wrong key, or a thing that is not
connected, is 403. There is no ``/metrics`` on this port, as in Mainflux."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core import http
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import MalformedEntity


def _field(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedEntity(f"{name} must be a string")
    return value


def create_auth_app(service: ThingAccess) -> Starlette:
    """The auth app over ``service`` (the things service or anything answering like it)."""

    async def identify(request: Request) -> Response:
        key = _field(await http.read_json_object(request), "token")
        return http.json_response({"id": await service.identify(key)})

    async def access_by_key(request: Request) -> Response:
        key = _field(await http.read_json_object(request), "token")
        thing_id = await service.can_access_by_key(request.path_params["id"], key)
        return http.json_response({"id": thing_id})

    async def access_by_id(request: Request) -> Response:
        thing_id = _field(await http.read_json_object(request), "thing_id")
        await service.can_access_by_id(request.path_params["id"], thing_id)
        return http.empty_response(200)

    routes = [
        Route("/identify", identify, methods=["POST"]),
        Route("/channels/{id}/access-by-key", access_by_key, methods=["POST"]),
        Route("/channels/{id}/access-by-id", access_by_id, methods=["POST"]),
        *[r for r in http.service_routes("things") if getattr(r, "path", "") != "/metrics"],
    ]
    return http.create_app("things-auth", routes, with_service_routes=False)
