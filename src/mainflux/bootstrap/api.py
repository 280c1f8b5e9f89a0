"""The HTTP API of the bootstrap service (Mainflux's ``MF_BOOTSTRAP_PORT``, 8202).

Transport only: decode and validate, call the service, encode. Paths, fields and
statuses follow Mainflux 0.11 (conflicts are 409, a state change answers 200) with its
bugs fixed: a malformed body or query is 400, never 500; paging is strict like every
other API here (``limit`` 1 to 100, else 400, where Mainflux clamps). Secure bootstrap
answers the raw bytes ``IV ‖ AES-CFB(JSON)``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.bootstrap import crypto
from mainflux.bootstrap.models import Config, ConfigChannel, ConfigFilter, State, UnknownConfig
from mainflux.bootstrap.service import DEFAULT_LIMIT, MAX_LIMIT, MAX_NAME, Service
from mainflux.core import http
from mainflux.core.errors import Conflict, MalformedEntity, Unauthorized
from mainflux.core.query import query_page, query_value

_STATES = {"0": State.INACTIVE, "1": State.ACTIVE}


def channel_view(channel: ConfigChannel) -> dict[str, Any]:
    """A config's channel: ``id``, ``name``?, ``metadata``?."""
    view: dict[str, Any] = {"id": channel.id}
    if channel.name:
        view["name"] = channel.name
    if channel.metadata:
        view["metadata"] = channel.metadata
    return view


def config_view(config: Config, *, channels: bool = True) -> dict[str, Any]:
    """A config as ``GET /things/configs/{id}`` shows it (no certificates)."""
    view: dict[str, Any] = {"mainflux_id": config.thing_id, "mainflux_key": config.thing_key}
    if channels and config.channels:
        view["mainflux_channels"] = [channel_view(c) for c in config.channels]
    view["external_id"] = config.external_id
    view["external_key"] = config.external_key
    if config.content:
        view["content"] = config.content
    if config.name:
        view["name"] = config.name
    view["state"] = int(config.state)
    return view


def bootstrap_view(config: Config) -> dict[str, Any]:
    """What a device receives when it bootstraps."""
    view: dict[str, Any] = {
        "mainflux_id": config.thing_id,
        "mainflux_key": config.thing_key,
        "mainflux_channels": [channel_view(c) for c in config.channels],
    }
    for field in ("content", "client_cert", "client_key", "ca_cert"):
        if value := getattr(config, field):
            view[field] = value
    return view


def _unknown_view(unknown: UnknownConfig) -> dict[str, str]:
    return {"external_id": unknown.external_id, "external_key": unknown.external_key}


def _token(request: Request) -> str:
    token = http.auth_header(request)
    if not token:
        raise Unauthorized()
    return token


def _string(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedEntity(f"{field} must be a string")
    return value


def _channel_ids(data: dict[str, Any]) -> list[str]:
    value = data.get("channels")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise MalformedEntity("channels must be an array of channel ids")
    return value


def _name(data: dict[str, Any]) -> str:
    name = _string(data, "name")
    if len(name) > MAX_NAME:
        raise MalformedEntity(f"name longer than {MAX_NAME} characters")
    return name


def _config_spec(data: dict[str, Any]) -> Config:
    return Config(
        thing_id=_string(data, "thing_id"),
        name=_name(data),
        external_id=_string(data, "external_id"),
        external_key=_string(data, "external_key"),
        channels=[ConfigChannel(c) for c in _channel_ids(data)],
        content=_string(data, "content"),
        client_cert=_string(data, "client_cert"),
        client_key=_string(data, "client_key"),
        ca_cert=_string(data, "ca_cert"),
    )


def _filter(request: Request) -> ConfigFilter:
    raw_state = query_value(request, "state")
    state = None
    if raw_state:
        if raw_state not in _STATES:
            raise MalformedEntity("state must be 0 or 1")
        state = _STATES[raw_state]
    name = query_value(request, "name") or ""
    if len(name) > MAX_NAME:
        raise MalformedEntity(f"name longer than {MAX_NAME} characters")
    return ConfigFilter(
        name=name,
        state=state,
        external_id=query_value(request, "external_id") or "",
        thing_id=query_value(request, "mainflux_id") or "",
        thing_key=query_value(request, "mainflux_key") or "",
    )


def create_app(service: Service, encrypt_key: bytes) -> Starlette:
    """The bootstrap app (service name ``bootstrap``) over ``service``; secure
    bootstrap answers are encrypted with ``encrypt_key``."""

    async def add(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        config = await service.add(token, _config_spec(data))
        return http.empty_response(201, {"Location": f"/things/configs/{config.thing_id}"})

    async def view(request: Request) -> Response:
        config = await service.view(_token(request), request.path_params["id"])
        return http.json_response(config_view(config))

    async def update(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        name, content = _name(data), _string(data, "content")
        await service.update(token, request.path_params["id"], name, content)
        return http.empty_response(200)

    async def update_certs(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        certs = [_string(data, f) for f in ("client_cert", "client_key", "ca_cert")]
        await service.update_certs(token, request.path_params["id"], *certs)
        return http.empty_response(200)

    async def update_connections(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        await service.update_connections(token, request.path_params["id"], _channel_ids(data))
        return http.empty_response(200)

    async def list_configs(request: Request) -> Response:
        token = _token(request)
        offset, limit = query_page(request, DEFAULT_LIMIT, MAX_LIMIT)
        page = await service.list(token, _filter(request), offset, limit)
        body = {
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
            "configs": [config_view(c, channels=False) for c in page.items],
        }
        return http.json_response(body)

    async def remove(request: Request) -> Response:
        await service.remove(_token(request), request.path_params["id"])
        return http.empty_response(204)

    async def list_unknown(request: Request) -> Response:
        token = _token(request)
        offset, limit = query_page(request, DEFAULT_LIMIT, MAX_LIMIT)
        page = await service.list_unknown(token, offset, limit)
        body = {
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
            "configs": [_unknown_view(u) for u in page.items],
        }
        return http.json_response(body)

    async def bootstrap(request: Request) -> Response:
        key = http.auth_header(request)
        config = await service.bootstrap(request.path_params["external_id"], key)
        return http.json_response(bootstrap_view(config))

    async def bootstrap_secure(request: Request) -> Response:
        key = http.auth_header(request)
        config = await service.bootstrap(request.path_params["external_id"], key, secure=True)
        plain = orjson.dumps(bootstrap_view(config)) + b"\n"
        return Response(crypto.encrypt(encrypt_key, plain), media_type=http.JSON)

    async def change_state(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        state = data.get("state")
        if isinstance(state, bool) or state not in (0, 1):
            raise MalformedEntity("state must be 0 or 1")
        await service.change_state(token, request.path_params["id"], State(state))
        return http.empty_response(200)

    routes = [
        Route("/things/configs", add, methods=["POST"], include_in_schema=False),
        Route("/things/configs", list_configs, methods=["GET"], include_in_schema=False),
        Route(
            "/things/configs/certs/{id}", update_certs, methods=["PATCH"], include_in_schema=False
        ),
        Route(
            "/things/configs/connections/{id}",
            update_connections,
            methods=["PUT"],
            include_in_schema=False,
        ),
        Route("/things/configs/{id}", view, methods=["GET"], include_in_schema=False),
        Route("/things/configs/{id}", update, methods=["PUT"], include_in_schema=False),
        Route("/things/configs/{id}", remove, methods=["DELETE"], include_in_schema=False),
        Route("/things/unknown/configs", list_unknown, methods=["GET"], include_in_schema=False),
        Route(
            "/things/bootstrap/secure/{external_id}",
            bootstrap_secure,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route(
            "/things/bootstrap/{external_id}", bootstrap, methods=["GET"], include_in_schema=False
        ),
        Route("/things/state/{id}", change_state, methods=["PUT"], include_in_schema=False),
    ]
    return http.create_app("bootstrap", routes, error_status={Conflict: 409})
