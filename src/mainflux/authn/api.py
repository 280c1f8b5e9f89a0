"""The authn HTTP API: ``POST /keys``, ``GET /keys/{id}``, ``DELETE /keys/{id}``.

Every call needs a valid login token in ``Authorization`` (raw, no ``Bearer``): a
missing header is 400 as in Mainflux, a bad or non-login token 403."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.authn.models import API, Key
from mainflux.authn.service import AuthnService
from mainflux.core.errors import Conflict, MalformedEntity
from mainflux.core.http import auth_header, empty_response, json_response, read_json_object
from mainflux.core.http import create_app as create_service_app

SERVICE_NAME = "auth"


def rfc3339(moment: datetime) -> str:
    """A UTC time in whole seconds, as RFC 3339 (``2020-05-29T10:00:00Z``)."""
    text = moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()
    return text + "Z"


def _issue_request(body: dict[str, Any]) -> tuple[int, int | None]:
    """Validate a ``POST /keys`` body and return its (type, duration)."""
    key_type = body.get("type", 0)
    duration = body.get("duration")
    if type(key_type) is not int or key_type not in (0, API):
        raise MalformedEntity("invalid key type")
    if duration is not None and (type(duration) is not int or duration < 0):
        raise MalformedEntity("duration must be a non-negative number of seconds")
    return key_type, duration


def _issuer(request: Request) -> str:
    """The ``Authorization`` value; a missing one is malformed (400), as in Mainflux."""
    token = auth_header(request)
    if not token:
        raise MalformedEntity("missing Authorization header")
    return token


def _key_view(key: Key) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": key.id,
        "type": key.type,
        "issuer": key.issuer,
        "issued_at": rfc3339(key.issued_at),
    }
    if key.expires_at is not None:
        view["expires_at"] = rfc3339(key.expires_at)
    return view


def create_app(service: AuthnService) -> Starlette:
    """The authn HTTP app (service name ``auth``) over ``service``."""

    async def issue(request: Request) -> Response:
        key_type, duration = _issue_request(await read_json_object(request))
        key, token = await service.issue_key(_issuer(request), key_type, duration)
        body: dict[str, Any] = {}
        if key.id:
            body["id"] = key.id
        body["value"] = token
        body["issued_at"] = rfc3339(key.issued_at)
        if key.expires_at is not None:
            body["expires_at"] = rfc3339(key.expires_at)
        return json_response(body, 201)

    async def retrieve(request: Request) -> Response:
        key = await service.retrieve_key(_issuer(request), request.path_params["id"])
        return json_response(_key_view(key))

    async def revoke(request: Request) -> Response:
        await service.revoke_key(_issuer(request), request.path_params["id"])
        return empty_response(204)

    routes = [
        Route("/keys", issue, methods=["POST"]),
        Route("/keys/{id}", retrieve, methods=["GET"]),
        Route("/keys/{id}", revoke, methods=["DELETE"]),
    ]
    return create_service_app(SERVICE_NAME, routes, error_status={Conflict: 409})
