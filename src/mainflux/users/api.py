"""The users HTTP API: accounts, tokens, profile and passwords (Mainflux's routes), plus
the page reset links point at by default (``GET /password/reset``).

Conflicts answer 409 here (things uses 422). A reset request needs no ``Referer``: the
link's page is configured (``MF_USERS_RESET_URL``)."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core.errors import Conflict, MalformedEntity, Unauthorized
from mainflux.core.http import auth_header, empty_response, json_response, read_json_object
from mainflux.core.http import create_app as create_service_app
from mainflux.core.limits import check_json_depth
from mainflux.users.reset_page import reset_page
from mainflux.users.service import UsersService

SERVICE_NAME = "users"


def _text(body: dict[str, Any], key: str) -> str:
    """The string field ``key`` of ``body`` (``""`` when absent); other types are malformed."""
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedEntity(f"{key} must be a string")
    return value


def _metadata(body: dict[str, Any]) -> dict[str, Any] | None:
    """The optional ``metadata`` object of ``body``."""
    value = body.get("metadata")
    if value is not None and not isinstance(value, dict):
        raise MalformedEntity("metadata must be a JSON object")
    if value is not None:
        check_json_depth(value)
    return value


def create_app(service: UsersService) -> Starlette:
    """The users HTTP app (service name ``users``) over ``service``."""

    async def register(request: Request) -> Response:
        body = await read_json_object(request)
        await service.register(_text(body, "email"), _text(body, "password"), _metadata(body))
        return empty_response(201)

    async def login(request: Request) -> Response:
        body = await read_json_object(request)
        token = await service.login(_text(body, "email"), _text(body, "password"))
        return json_response({"token": token}, 201)

    async def view(request: Request) -> Response:
        user = await service.view(auth_header(request))
        view: dict[str, Any] = {"email": user.email}
        if user.metadata:
            view["metadata"] = user.metadata
        return json_response(view)

    async def update(request: Request) -> Response:
        body = await read_json_object(request, check_content_type=False)
        await service.update(auth_header(request), _metadata(body))
        return empty_response(200)

    async def reset_request(request: Request) -> Response:
        body = await read_json_object(request)
        email = _text(body, "email")
        if not email:
            raise MalformedEntity("email is required")
        await service.request_password_reset(email)
        return json_response({"msg": "Email with reset link is sent"}, 201)

    async def reset(request: Request) -> Response:
        body = await read_json_object(request)
        token = _text(body, "token")
        password, confirm = _text(body, "password"), _text(body, "confirm_password")
        if not password or not confirm:
            raise MalformedEntity("password and confirm_password are required")
        if password != confirm:
            raise MalformedEntity("passwords do not match")
        await service.reset_password(token, password)
        return json_response({"msg": ""}, 201)

    async def change_password(request: Request) -> Response:
        body = await read_json_object(request)
        token = auth_header(request)
        if not token:
            raise Unauthorized()
        await service.change_password(token, _text(body, "password"), _text(body, "old_password"))
        return json_response({"msg": ""}, 201)

    routes = [
        Route("/users", register, methods=["POST"]),
        Route("/users", view, methods=["GET"]),
        Route("/users", update, methods=["PUT"]),
        Route("/tokens", login, methods=["POST"]),
        Route("/password/reset-request", reset_request, methods=["POST"]),
        Route("/password/reset", reset, methods=["PUT"]),
        Route("/password/reset", reset_page, methods=["GET"]),
        Route("/password", change_password, methods=["PATCH"]),
    ]
    return create_service_app(SERVICE_NAME, routes, error_status={Conflict: 409})
