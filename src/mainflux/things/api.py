"""The management HTTP API of the things service (Mainflux's ``MF_THINGS_HTTP_PORT``).

Transport only: decode and validate the request, call the service, encode the answer.
Statuses follow Mainflux 0.11 (conflicts are 422) with its bugs fixed: an invalid
metadata filter or a non-UUID id never gives 500. Bounds, each a 400 naming it: at most
``MF_THINGS_MAX_BULK`` (100) entities per bulk create and ids per list of ``POST
/connect``, metadata (and the metadata filter) nested at most 32 levels, and paging
parameters read by :mod:`mainflux.core.query`."""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.core import http
from mainflux.core.config import env_int
from mainflux.core.endpoints import USER, Endpoint, Reply
from mainflux.core.errors import MalformedEntity, Unauthorized
from mainflux.core.limits import MAX_JSON_DEPTH, check_json_depth
from mainflux.core.query import MAX_OFFSET
from mainflux.things.models import Channel, Metadata, Page, Thing
from mainflux.things.service import DEFAULT_LIMIT, MAX_KEY, MAX_LIMIT, MAX_NAME, Service

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

Name = Annotated[
    str, msgspec.Meta(max_length=MAX_NAME, description="Any text.", examples=["weather station"])
]
JsonObject = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description=f"Free-form JSON object, nested at most {MAX_JSON_DEPTH} levels.",
        examples=[{"room": "kitchen"}],
    ),
]
_BULK = f"At most {MAX_BULK_VAR} (default {DEFAULT_MAX_BULK}) entries."


class NewThing(msgspec.Struct, kw_only=True):
    """A thing to create; without a `key` it gets a random one."""

    key: (
        Annotated[str, msgspec.Meta(max_length=MAX_KEY, description="Unique among all things.")]
        | None
    ) = None
    name: Name | None = None
    metadata: JsonObject | None = None


class ChannelSpec(msgspec.Struct, kw_only=True):
    """A channel's name and metadata (both replaced on update; omitted means empty)."""

    name: Name | None = None
    metadata: JsonObject | None = None


class ThingUpdate(ChannelSpec, kw_only=True):
    """A thing's new name and metadata (both replaced; omitted means empty)."""


class KeyUpdate(msgspec.Struct, kw_only=True):
    """A thing's new key, unique among all things."""

    key: Annotated[
        str, msgspec.Meta(min_length=1, max_length=MAX_KEY, examples=["a-new-secret-key"])
    ]


Ids = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=1)]],
    msgspec.Meta(min_length=1, description=_BULK),
]


class Connection(msgspec.Struct, kw_only=True):
    """Connects every listed thing to every listed channel, all or none."""

    channel_ids: Ids
    thing_ids: Ids


NewThings = Annotated[list[NewThing], msgspec.Meta(min_length=1, description=_BULK)]
NewChannels = Annotated[list[ChannelSpec], msgspec.Meta(min_length=1, description=_BULK)]


class ThingView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A thing (`name` and `metadata` only when set)."""

    id: str
    name: str = ""
    key: str
    metadata: Metadata | None = None


class ChannelView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A channel (`name` and `metadata` only when set)."""

    id: str
    name: str = ""
    metadata: Metadata | None = None


class ThingsPage(msgspec.Struct):
    """A page of things, ordered by id."""

    total: int
    offset: int
    limit: int
    things: list[ThingView]


class ChannelsPage(msgspec.Struct):
    """A page of channels, ordered by id."""

    total: int
    offset: int
    limit: int
    channels: list[ChannelView]


class CreatedThings(msgspec.Struct):
    """The things created, in the order given."""

    things: list[ThingView]


class CreatedChannels(msgspec.Struct):
    """The channels created, in the order given."""

    channels: list[ChannelView]


Offset = Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET, description="Entries to skip.")]
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT, description="Entries per page.")]


class PageQuery(msgspec.Struct, kw_only=True):
    """Paging of a list."""

    offset: Offset = 0
    limit: Limit = DEFAULT_LIMIT


class ListQuery(PageQuery, kw_only=True):
    """Paging and filters of a list."""

    name: (
        Annotated[
            str,
            msgspec.Meta(max_length=MAX_NAME, description="Case-insensitive part of the name."),
        ]
        | None
    ) = None
    metadata: (
        Annotated[
            str,
            msgspec.Meta(
                description="A JSON object the entity's metadata must contain.",
                examples=['{"room":"kitchen"}'],
            ),
        ]
        | None
    ) = None


def thing_view(thing: Thing) -> ThingView:
    """A thing as Mainflux shows it: ``id``, ``name``?, ``key``, ``metadata``?."""
    return ThingView(id=thing.id, name=thing.name, key=thing.key, metadata=thing.metadata or None)


def channel_view(channel: Channel) -> ChannelView:
    """A channel as Mainflux shows it: ``id``, ``name``?, ``metadata``?."""
    return ChannelView(id=channel.id, name=channel.name, metadata=channel.metadata or None)


def _token(request: Request) -> str:
    token = http.auth_header(request)
    if not token:
        raise Unauthorized()
    return token


def _metadata(value: Metadata | None) -> Metadata | None:
    check_json_depth(value)
    return value


def _thing(spec: NewThing) -> Thing:
    return Thing(key=spec.key or "", name=spec.name or "", metadata=_metadata(spec.metadata))


def _channel(spec: ChannelSpec, id: str = "") -> Channel:
    return Channel(id=id, name=spec.name or "", metadata=_metadata(spec.metadata))


def _capped(items: list[Any], what: str, cap: int) -> list[Any]:
    if len(items) > cap:
        raise MalformedEntity(f"at most {cap} {what} per request")
    return items


def _metadata_filter(raw: str | None) -> Metadata | None:
    if not raw:
        return None
    try:
        metadata = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedEntity("metadata filter is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise MalformedEntity("metadata filter must be a JSON object")
    check_json_depth(metadata, "metadata filter")
    return metadata


def create_app(service: Service, *, max_bulk: int | None = None) -> Starlette:
    """The things management app (service name ``things``) over ``service``.

    ``max_bulk`` caps bulk creates and ``POST /connect`` lists (default:
    ``MF_THINGS_MAX_BULK``, 100); reading it raises ``ConfigError`` for a bad value."""
    cap = max_bulk if max_bulk is not None else env_int(MAX_BULK_VAR, DEFAULT_MAX_BULK, minimum=1)

    async def create_thing(request: Request, body: NewThing) -> Response:
        """Creates one thing; its id is in `Location`. Deprecated: use the bulk endpoint."""
        token = _token(request)
        (thing,) = await service.create_things(token, [_thing(body)])
        headers = {
            "Location": f"/things/{thing.id}",
            "Warning-Deprecated": DEPRECATED_CREATE.format(bulk="/things/bulk"),
        }
        return http.empty_response(201, headers)

    async def create_things(request: Request, body: list[NewThing]) -> Response:
        """Creates several things at once, all or none."""
        token = _token(request)
        specs = [_thing(spec) for spec in _capped(body, "things", cap)]
        things = await service.create_things(token, specs)
        return http.json_response(CreatedThings([thing_view(t) for t in things]), 201)

    async def view_thing(request: Request) -> Response:
        """One of the caller's things, key included."""
        thing = await service.view_thing(_token(request), request.path_params["id"])
        return http.json_response(thing_view(thing))

    async def update_thing(request: Request, body: ThingUpdate) -> Response:
        """Replaces the thing's name and metadata."""
        token = _token(request)
        thing = Thing(
            id=request.path_params["id"], name=body.name or "", metadata=_metadata(body.metadata)
        )
        await service.update_thing(token, thing)
        return http.empty_response(200)

    async def update_key(request: Request, body: KeyUpdate) -> Response:
        """Replaces the thing's key; the old one stops working at once."""
        token = _token(request)
        await service.update_key(token, request.path_params["id"], body.key)
        return http.empty_response(200)

    async def remove_thing(request: Request) -> Response:
        """Removes the thing and its connections (204 also when there is none)."""
        await service.remove_thing(_token(request), request.path_params["id"])
        return http.empty_response(204)

    async def list_things(request: Request, query: ListQuery) -> Response:
        """The caller's things, filtered by name and metadata."""
        token = _token(request)
        metadata = _metadata_filter(query.metadata)
        page = await service.list_things(
            token, query.offset, query.limit, query.name or "", metadata
        )
        return http.json_response(_things_page(page))

    async def channels_of_thing(request: Request, query: PageQuery) -> Response:
        """The channels the thing is connected to."""
        token = _token(request)
        page = await service.list_channels_by_thing(
            token, request.path_params["id"], query.offset, query.limit
        )
        return http.json_response(_channels_page(page))

    async def create_channel(request: Request, body: ChannelSpec) -> Response:
        """Creates one channel; its id is in `Location`. Deprecated: use the bulk
        endpoint."""
        token = _token(request)
        (channel,) = await service.create_channels(token, [_channel(body)])
        headers = {
            "Location": f"/channels/{channel.id}",
            "Warning-Deprecated": DEPRECATED_CREATE.format(bulk="/channels/bulk"),
        }
        return http.empty_response(201, headers)

    async def create_channels(request: Request, body: list[ChannelSpec]) -> Response:
        """Creates several channels at once, all or none."""
        token = _token(request)
        specs = [_channel(spec) for spec in _capped(body, "channels", cap)]
        channels = await service.create_channels(token, specs)
        return http.json_response(CreatedChannels([channel_view(c) for c in channels]), 201)

    async def view_channel(request: Request) -> Response:
        """One of the caller's channels."""
        channel = await service.view_channel(_token(request), request.path_params["id"])
        return http.json_response(channel_view(channel))

    async def update_channel(request: Request, body: ChannelSpec) -> Response:
        """Replaces the channel's name and metadata."""
        token = _token(request)
        await service.update_channel(token, _channel(body, request.path_params["id"]))
        return http.empty_response(200)

    async def remove_channel(request: Request) -> Response:
        """Removes the channel and its connections (204 also when there is none)."""
        await service.remove_channel(_token(request), request.path_params["id"])
        return http.empty_response(204)

    async def list_channels(request: Request, query: ListQuery) -> Response:
        """The caller's channels, filtered by name and metadata."""
        token = _token(request)
        metadata = _metadata_filter(query.metadata)
        page = await service.list_channels(
            token, query.offset, query.limit, query.name or "", metadata
        )
        return http.json_response(_channels_page(page))

    async def things_of_channel(request: Request, query: PageQuery) -> Response:
        """The things connected to the channel, keys included."""
        token = _token(request)
        page = await service.list_things_by_channel(
            token, request.path_params["id"], query.offset, query.limit
        )
        return http.json_response(_things_page(page))

    async def connect_one(request: Request) -> Response:
        """Connects a thing to a channel. Deprecated: use `POST /connect`."""
        params = request.path_params
        await service.connect(_token(request), [params["chan_id"]], [params["thing_id"]])
        return http.empty_response(200, {"Warning-Deprecated": DEPRECATED_CONNECT})

    async def disconnect(request: Request) -> Response:
        """Disconnects a thing from a channel; its open sessions there are closed."""
        params = request.path_params
        await service.disconnect(_token(request), params["chan_id"], params["thing_id"])
        return http.empty_response(204)

    async def connect_many(request: Request, body: Connection) -> Response:
        """Connects every listed thing to every listed channel in one transaction."""
        token = _token(request)
        channel_ids = _capped(body.channel_ids, "channel_ids", cap)
        thing_ids = _capped(body.thing_ids, "thing_ids", cap)
        await service.connect(token, channel_ids, thing_ids)
        return http.empty_response(200)

    things, channels = ("things",), ("channels",)
    missing = {400: "A malformed id.", 404: "No such entity of the caller's."}
    malformed = {400: "A malformed id."}
    taken = {422: "The key is taken by another thing."}
    location = {"Location": "The new entity's path.", "Warning-Deprecated": "Use the bulk call."}
    thing_example = {"name": "weather station", "metadata": {"room": "kitchen"}}
    channel_example = {"name": "measurements", "metadata": {"unit": "Cel"}}

    def ep(method: str, path: str, handler: Any, summary: str, **kw: Any) -> Endpoint:
        return Endpoint(method, path, handler, summary=summary, security=USER, **kw)

    routes = [
        ep(
            "POST",
            "/things",
            create_thing,
            "Create a thing",
            tags=things,
            body=NewThing,
            body_example=thing_example,
            ok=Reply(201, "Created.", headers=location),
            errors=taken,
        ),
        ep(
            "GET",
            "/things",
            list_things,
            "List things",
            tags=things,
            query=ListQuery,
            ok=Reply(200, "A page of things.", ThingsPage),
        ),
        ep(
            "POST",
            "/things/bulk",
            create_things,
            "Create things",
            tags=things,
            body=NewThings,
            body_example=[thing_example, {"name": "door sensor"}],
            ok=Reply(201, "Created.", CreatedThings),
            errors=taken,
        ),
        ep(
            "GET",
            "/things/{id}",
            view_thing,
            "View a thing",
            tags=things,
            ok=Reply(200, "The thing.", ThingView),
            errors=missing,
        ),
        ep(
            "PUT",
            "/things/{id}",
            update_thing,
            "Update a thing",
            tags=things,
            body=ThingUpdate,
            body_example=thing_example,
            ok=Reply(200, "Updated."),
            errors=missing,
        ),
        ep(
            "DELETE",
            "/things/{id}",
            remove_thing,
            "Remove a thing",
            tags=things,
            ok=Reply(204, "Removed."),
            errors=malformed,
        ),
        ep(
            "PATCH",
            "/things/{id}/key",
            update_key,
            "Change a thing's key",
            tags=things,
            body=KeyUpdate,
            body_example={"key": "a-new-secret-key"},
            ok=Reply(200, "Changed."),
            errors={**missing, **taken},
        ),
        ep(
            "GET",
            "/things/{id}/channels",
            channels_of_thing,
            "List a thing's channels",
            tags=things,
            query=PageQuery,
            ok=Reply(200, "A page of channels.", ChannelsPage),
            errors=missing,
        ),
        ep(
            "POST",
            "/channels",
            create_channel,
            "Create a channel",
            tags=channels,
            body=ChannelSpec,
            body_example=channel_example,
            ok=Reply(201, "Created.", headers=location),
        ),
        ep(
            "GET",
            "/channels",
            list_channels,
            "List channels",
            tags=channels,
            query=ListQuery,
            ok=Reply(200, "A page of channels.", ChannelsPage),
        ),
        ep(
            "POST",
            "/channels/bulk",
            create_channels,
            "Create channels",
            tags=channels,
            body=NewChannels,
            body_example=[channel_example],
            ok=Reply(201, "Created.", CreatedChannels),
        ),
        ep(
            "GET",
            "/channels/{id}",
            view_channel,
            "View a channel",
            tags=channels,
            ok=Reply(200, "The channel.", ChannelView),
            errors=missing,
        ),
        ep(
            "PUT",
            "/channels/{id}",
            update_channel,
            "Update a channel",
            tags=channels,
            body=ChannelSpec,
            body_example=channel_example,
            ok=Reply(200, "Updated."),
            errors=missing,
        ),
        ep(
            "DELETE",
            "/channels/{id}",
            remove_channel,
            "Remove a channel",
            tags=channels,
            ok=Reply(204, "Removed."),
            errors=malformed,
        ),
        ep(
            "GET",
            "/channels/{id}/things",
            things_of_channel,
            "List a channel's things",
            tags=channels,
            query=PageQuery,
            ok=Reply(200, "A page of things.", ThingsPage),
            errors=missing,
        ),
        ep(
            "PUT",
            "/channels/{chan_id}/things/{thing_id}",
            connect_one,
            "Connect a thing",
            tags=channels,
            errors={**missing, 422: "Already connected."},
            ok=Reply(200, "Connected.", headers={"Warning-Deprecated": "Use POST /connect."}),
        ),
        ep(
            "DELETE",
            "/channels/{chan_id}/things/{thing_id}",
            disconnect,
            "Disconnect a thing",
            tags=channels,
            ok=Reply(204, "Disconnected."),
            errors={**malformed, 404: "Not connected, or no such entity of the caller's."},
        ),
        ep(
            "POST",
            "/connect",
            connect_many,
            "Connect things to channels",
            tags=channels,
            body=Connection,
            ok=Reply(200, "Connected."),
            body_example={"channel_ids": ["<channel id>"], "thing_ids": ["<thing id>"]},
            errors={**missing, 422: "A pair is already connected."},
        ),
    ]
    return http.create_app("things", routes)


def _things_page(page: Page[Thing]) -> ThingsPage:
    return ThingsPage(page.total, page.offset, page.limit, [thing_view(t) for t in page.items])


def _channels_page(page: Page[Channel]) -> ChannelsPage:
    return ChannelsPage(page.total, page.offset, page.limit, [channel_view(c) for c in page.items])
