"""The authn HTTP API: ``POST /keys``, ``GET /keys/{id}``, ``DELETE /keys/{id}``.

Every call needs a valid login token in ``Authorization`` (raw, no ``Bearer``): a
missing header is 400 as in Mainflux, a bad or non-login token 403."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.authn.models import Key
from mainflux.authn.service import AuthnService
from mainflux.core.endpoints import LOGIN, Endpoint, Reply
from mainflux.core.errors import Conflict, MalformedEntity
from mainflux.core.http import auth_header, empty_response, json_response
from mainflux.core.http import create_app as create_service_app

SERVICE_NAME = "auth"
TAGS = ("keys",)
Time = Annotated[str, msgspec.Meta(description="RFC 3339, UTC.")]


class KeyRequest(msgspec.Struct, kw_only=True):
    """A key to issue: `type` 2 is an API key (0, a login key, is kept for Mainflux's
    clients); `duration` in seconds, none: it never expires."""

    type: Literal[0, 2] = 0
    duration: Annotated[int, msgspec.Meta(ge=0)] | None = None


class IssuedKey(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The issued key: send `value` as `Authorization`."""

    id: str = ""
    value: str
    issued_at: Time
    expires_at: Time | None = None


class KeyView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An API key (never its value)."""

    id: str
    type: int
    issuer: str
    issued_at: Time
    expires_at: Time | None = None


def rfc3339(moment: datetime) -> str:
    """A UTC time in whole seconds, as RFC 3339 (``2020-05-29T10:00:00Z``)."""
    text = moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()
    return text + "Z"


def _issuer(request: Request) -> str:
    """The ``Authorization`` value; a missing one is malformed (400), as in Mainflux."""
    token = auth_header(request)
    if not token:
        raise MalformedEntity("missing Authorization header")
    return token


def _expiry(key: Key) -> str | None:
    return rfc3339(key.expires_at) if key.expires_at is not None else None


def create_app(service: AuthnService) -> Starlette:
    """The authn HTTP app (service name ``auth``) over ``service``."""

    async def issue(request: Request, body: KeyRequest) -> Response:
        """Issues an API key for the caller (needs a login token)."""
        key, token = await service.issue_key(_issuer(request), body.type, body.duration)
        issued = IssuedKey(
            id=key.id, value=token, issued_at=rfc3339(key.issued_at), expires_at=_expiry(key)
        )
        return json_response(issued, 201)

    async def retrieve(request: Request) -> Response:
        """One of the caller's API keys."""
        key = await service.retrieve_key(_issuer(request), request.path_params["id"])
        view = KeyView(
            id=key.id,
            type=key.type,
            issuer=key.issuer,
            issued_at=rfc3339(key.issued_at),
            expires_at=_expiry(key),
        )
        return json_response(view)

    async def revoke(request: Request) -> Response:
        """Revokes one of the caller's API keys (204 also when there is none)."""
        await service.revoke_key(_issuer(request), request.path_params["id"])
        return empty_response(204)

    no_header = {400: "No Authorization header, or a malformed request."}
    routes = [
        Endpoint(
            "POST",
            "/keys",
            issue,
            summary="Issue an API key",
            tags=TAGS,
            security=LOGIN,
            body=KeyRequest,
            body_example={"type": 2, "duration": 86400},
            ok=Reply(201, "The key.", IssuedKey),
            errors={409: "The key id is taken."},
        ),
        Endpoint(
            "GET",
            "/keys/{id}",
            retrieve,
            summary="View an API key",
            tags=TAGS,
            security=LOGIN,
            ok=Reply(200, "The key.", KeyView),
            errors={**no_header, 404: "No such key of the caller's."},
        ),
        Endpoint(
            "DELETE",
            "/keys/{id}",
            revoke,
            summary="Revoke an API key",
            tags=TAGS,
            security=LOGIN,
            ok=Reply(204, "Revoked."),
            errors=no_header,
        ),
    ]
    return create_service_app(SERVICE_NAME, routes, error_status={Conflict: 409})
