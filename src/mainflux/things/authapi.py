"""The things service's internal auth HTTP API (Mainflux's ``MF_THINGS_AUTH_HTTP_PORT``).

``POST /identify``, ``POST /channels/{id}/access-by-key`` and
``POST /channels/{id}/access-by-id``: an empty or wrong key, or a thing that is not
connected, is 403. There is no ``/metrics`` on this port, as in Mainflux."""

from __future__ import annotations

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.core import http
from mainflux.core.auth import ThingAccess
from mainflux.core.endpoints import Endpoint, Reply

TAGS = ("access",)


class KeyToken(msgspec.Struct, kw_only=True):
    """A thing key."""

    token: str | None = None


class ThingRef(msgspec.Struct, kw_only=True):
    """A thing id."""

    thing_id: str | None = None


class ThingId(msgspec.Struct):
    """The thing the key belongs to."""

    id: str


def create_auth_app(service: ThingAccess) -> Starlette:
    """The auth app over ``service`` (the things service or anything answering like it)."""

    async def identify(request: Request, body: KeyToken) -> Response:
        """The id of the thing with this key."""
        return http.json_response(ThingId(await service.identify(body.token or "")))

    async def access_by_key(request: Request, body: KeyToken) -> Response:
        """Whether the thing with this key is connected to the channel; answers its id."""
        thing_id = await service.can_access_by_key(request.path_params["id"], body.token or "")
        return http.json_response(ThingId(thing_id))

    async def access_by_id(request: Request, body: ThingRef) -> Response:
        """Whether the thing is connected to the channel."""
        await service.can_access_by_id(request.path_params["id"], body.thing_id or "")
        return http.empty_response(200)

    refused = {403: "Unknown key or thing, or not connected."}
    routes = [
        Endpoint(
            "POST",
            "/identify",
            identify,
            summary="Identify a thing by its key",
            tags=TAGS,
            body=KeyToken,
            ok=Reply(200, "The thing.", ThingId),
            errors=refused,
        ),
        Endpoint(
            "POST",
            "/channels/{id}/access-by-key",
            access_by_key,
            tags=TAGS,
            summary="Check a thing key's access to a channel",
            body=KeyToken,
            ok=Reply(200, "Allowed; the thing.", ThingId),
            errors=refused,
        ),
        Endpoint(
            "POST",
            "/channels/{id}/access-by-id",
            access_by_id,
            tags=TAGS,
            summary="Check a thing's access to a channel",
            body=ThingRef,
            ok=Reply(200, "Allowed."),
            errors=refused,
        ),
        *[r for r in http.service_routes("things") if getattr(r, "path", "") != "/metrics"],
    ]
    return http.create_app(
        "things-auth", routes, with_service_routes=False, title="Mainflux things (auth)"
    )
