"""The management HTTP API of the things service (Mainflux's ``MF_THINGS_HTTP_PORT``).

Transport only: decode and validate the request, call the service, encode the answer.
Statuses follow Mainflux 0.11 (conflicts are 422) with its bugs fixed: an invalid
metadata filter or a non-UUID id never gives 500. Bounds, each a 400 naming it: at most
``MF_THINGS_MAX_BULK`` (100) entities per bulk create and ids per list of ``POST
/connect``, metadata (and the metadata filter) nested at most 32 levels, and paging
parameters read by :mod:`mainflux.core.query`."""

from __future__ import annotations

from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.core import http
from mainflux.core.config import env_int
from mainflux.core.errors import MalformedEntity, Unauthorized
from mainflux.core.limits import check_json_depth
from mainflux.core.query import query_page, query_value
from mainflux.things.models import Channel, Metadata, Page, Thing
from mainflux.things.service import DEFAULT_LIMIT, MAX_LIMIT, MAX_NAME, Service

DEPRECATED_CREATE: Final = (
    "This endpoint will be deprecated in v1.0.0. "
    "It will be replaced with the bulk endpoint found at {bulk}."
)
#: Entities per bulk create and ids per ``POST /connect`` list, unless configured.
DEFAULT_MAX_BULK: Final = 100
MAX_BULK_VAR: Final = "MF_THINGS_MAX_BULK"

DEPRECATED_CONNECT: Final = (
    "This endpoint will be deprecated in v1.0.0. "
    "It will be replaced with the bulk endpoint found at /connect."
)


def thing_view(thing: Thing) -> dict[str, Any]:
    """A thing as Mainflux shows it: ``id``, ``name``?, ``key``, ``metadata``?."""
    view: dict[str, Any] = {"id": thing.id}
    if thing.name:
        view["name"] = thing.name
    view["key"] = thing.key
    if thing.metadata:
        view["metadata"] = thing.metadata
    return view


def channel_view(channel: Channel) -> dict[str, Any]:
    """A channel as Mainflux shows it: ``id``, ``name``?, ``metadata``?."""
    view: dict[str, Any] = {"id": channel.id}
    if channel.name:
        view["name"] = channel.name
    if channel.metadata:
        view["metadata"] = channel.metadata
    return view


def _page_body(page: Page[Any], field: str, view: Any) -> dict[str, Any]:
    return {
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        field: [view(item) for item in page.items],
    }


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


def _metadata(data: dict[str, Any]) -> Metadata | None:
    value = data.get("metadata")
    if value is not None and not isinstance(value, dict):
        raise MalformedEntity("metadata must be a JSON object")
    check_json_depth(value)
    return value


def _name(data: dict[str, Any]) -> str:
    name = _string(data, "name")
    if len(name) > MAX_NAME:
        raise MalformedEntity(f"name longer than {MAX_NAME} characters")
    return name


def _thing_spec(data: Any) -> Thing:
    if not isinstance(data, dict):
        raise MalformedEntity("expected a JSON object")
    return Thing(key=_string(data, "key"), name=_name(data), metadata=_metadata(data))


def _channel_spec(data: Any) -> Channel:
    if not isinstance(data, dict):
        raise MalformedEntity("expected a JSON object")
    return Channel(name=_name(data), metadata=_metadata(data))


async def _bulk(request: Request, kind: str, max_bulk: int) -> list[Any]:
    data = await http.read_json(request)
    if not isinstance(data, list) or not data:
        raise MalformedEntity("expected a non-empty JSON array")
    if len(data) > max_bulk:
        raise MalformedEntity(f"at most {max_bulk} {kind} per request")
    return data


def _list_query(request: Request) -> tuple[int, int, str, Metadata | None]:
    """``offset``, ``limit``, ``name`` and ``metadata`` of a list request."""
    offset, limit = _paging(request)
    name = query_value(request, "name") or ""
    if len(name) > MAX_NAME:
        raise MalformedEntity(f"name longer than {MAX_NAME} characters")
    raw = query_value(request, "metadata") or ""
    metadata = None
    if raw:
        try:
            metadata = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise MalformedEntity("metadata filter is not valid JSON") from None
        if not isinstance(metadata, dict):
            raise MalformedEntity("metadata filter must be a JSON object")
        check_json_depth(metadata, "metadata filter")
    return offset, limit, name, metadata


def _paging(request: Request) -> tuple[int, int]:
    return query_page(request, DEFAULT_LIMIT, MAX_LIMIT)


def create_app(service: Service, *, max_bulk: int | None = None) -> Starlette:
    """The things management app (service name ``things``) over ``service``.

    ``max_bulk`` caps bulk creates and ``POST /connect`` lists (default:
    ``MF_THINGS_MAX_BULK``, 100); reading it raises ``ConfigError`` for a bad value."""
    cap = max_bulk if max_bulk is not None else env_int(MAX_BULK_VAR, DEFAULT_MAX_BULK, minimum=1)

    async def create_thing(request: Request) -> Response:
        data = await http.read_json(request)
        token = _token(request)
        (thing,) = await service.create_things(token, [_thing_spec(data)])
        headers = {
            "Location": f"/things/{thing.id}",
            "Warning-Deprecated": DEPRECATED_CREATE.format(bulk="/things/bulk"),
        }
        return http.empty_response(201, headers)

    async def create_things(request: Request) -> Response:
        data = await _bulk(request, "things", cap)
        token = _token(request)
        things = await service.create_things(token, [_thing_spec(item) for item in data])
        return http.json_response({"things": [thing_view(t) for t in things]}, 201)

    async def view_thing(request: Request) -> Response:
        thing = await service.view_thing(_token(request), request.path_params["id"])
        return http.json_response(thing_view(thing))

    async def update_thing(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        thing = Thing(id=request.path_params["id"], name=_name(data), metadata=_metadata(data))
        await service.update_thing(token, thing)
        return http.empty_response(200)

    async def update_key(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        key = _string(data, "key")
        if not key:
            raise MalformedEntity("key must not be empty")
        await service.update_key(token, request.path_params["id"], key)
        return http.empty_response(200)

    async def remove_thing(request: Request) -> Response:
        await service.remove_thing(_token(request), request.path_params["id"])
        return http.empty_response(204)

    async def list_things(request: Request) -> Response:
        token = _token(request)
        offset, limit, name, metadata = _list_query(request)
        page = await service.list_things(token, offset, limit, name, metadata)
        return http.json_response(_page_body(page, "things", thing_view))

    async def channels_of_thing(request: Request) -> Response:
        token = _token(request)
        offset, limit = _paging(request)
        page = await service.list_channels_by_thing(token, request.path_params["id"], offset, limit)
        return http.json_response(_page_body(page, "channels", channel_view))

    async def create_channel(request: Request) -> Response:
        data = await http.read_json(request)
        token = _token(request)
        (channel,) = await service.create_channels(token, [_channel_spec(data)])
        headers = {
            "Location": f"/channels/{channel.id}",
            "Warning-Deprecated": DEPRECATED_CREATE.format(bulk="/channels/bulk"),
        }
        return http.empty_response(201, headers)

    async def create_channels(request: Request) -> Response:
        data = await _bulk(request, "channels", cap)
        token = _token(request)
        channels = await service.create_channels(token, [_channel_spec(c) for c in data])
        return http.json_response({"channels": [channel_view(c) for c in channels]}, 201)

    async def view_channel(request: Request) -> Response:
        channel = await service.view_channel(_token(request), request.path_params["id"])
        return http.json_response(channel_view(channel))

    async def update_channel(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        channel = Channel(id=request.path_params["id"], name=_name(data), metadata=_metadata(data))
        await service.update_channel(token, channel)
        return http.empty_response(200)

    async def remove_channel(request: Request) -> Response:
        await service.remove_channel(_token(request), request.path_params["id"])
        return http.empty_response(204)

    async def list_channels(request: Request) -> Response:
        token = _token(request)
        offset, limit, name, metadata = _list_query(request)
        page = await service.list_channels(token, offset, limit, name, metadata)
        return http.json_response(_page_body(page, "channels", channel_view))

    async def things_of_channel(request: Request) -> Response:
        token = _token(request)
        offset, limit = _paging(request)
        page = await service.list_things_by_channel(token, request.path_params["id"], offset, limit)
        return http.json_response(_page_body(page, "things", thing_view))

    async def connect_one(request: Request) -> Response:
        params = request.path_params
        await service.connect(_token(request), [params["chan_id"]], [params["thing_id"]])
        return http.empty_response(200, {"Warning-Deprecated": DEPRECATED_CONNECT})

    async def disconnect(request: Request) -> Response:
        params = request.path_params
        await service.disconnect(_token(request), params["chan_id"], params["thing_id"])
        return http.empty_response(204)

    async def connect_many(request: Request) -> Response:
        data = await http.read_json_object(request)
        token = _token(request)
        channel_ids = _id_list(data, "channel_ids", cap)
        thing_ids = _id_list(data, "thing_ids", cap)
        await service.connect(token, channel_ids, thing_ids)
        return http.empty_response(200)

    routes = [
        Route("/things", create_thing, methods=["POST"]),
        Route("/things", list_things, methods=["GET"]),
        Route("/things/bulk", create_things, methods=["POST"]),
        Route("/things/{id}", view_thing, methods=["GET"]),
        Route("/things/{id}", update_thing, methods=["PUT"]),
        Route("/things/{id}", remove_thing, methods=["DELETE"]),
        Route("/things/{id}/key", update_key, methods=["PATCH"]),
        Route("/things/{id}/channels", channels_of_thing, methods=["GET"]),
        Route("/channels", create_channel, methods=["POST"]),
        Route("/channels", list_channels, methods=["GET"]),
        Route("/channels/bulk", create_channels, methods=["POST"]),
        Route("/channels/{id}", view_channel, methods=["GET"]),
        Route("/channels/{id}", update_channel, methods=["PUT"]),
        Route("/channels/{id}", remove_channel, methods=["DELETE"]),
        Route("/channels/{id}/things", things_of_channel, methods=["GET"]),
        Route("/channels/{chan_id}/things/{thing_id}", connect_one, methods=["PUT"]),
        Route("/channels/{chan_id}/things/{thing_id}", disconnect, methods=["DELETE"]),
        Route("/connect", connect_many, methods=["POST"]),
    ]
    return http.create_app("things", routes)


def _id_list(data: dict[str, Any], field: str, cap: int) -> list[str]:
    value = data.get(field)
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item for item in value)
    ):
        raise MalformedEntity(f"{field} must be a non-empty array of non-empty strings")
    if len(value) > cap:
        raise MalformedEntity(f"at most {cap} {field} per request")
    return value
