"""The HTTP API of the bootstrap service (Mainflux's ``MF_BOOTSTRAP_PORT``, 8202).

Transport only: decode and validate, call the service, encode. Paths, fields and
statuses follow Mainflux 0.11 (conflicts are 409, a state change answers 200) with its
bugs fixed: a malformed body or query is 400, never 500; paging is strict like every
other API here (``limit`` 1 to 100, else 400, where Mainflux clamps). Secure bootstrap
answers the raw bytes ``IV ‖ AES-CFB(JSON)``."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mainflux.bootstrap import crypto
from mainflux.bootstrap.models import Config, ConfigChannel, ConfigFilter, State, UnknownConfig
from mainflux.bootstrap.service import (
    DEFAULT_LIMIT,
    DEFAULT_MAX_CHANNELS,
    MAX_EXTERNAL,
    MAX_LIMIT,
    MAX_NAME,
    Service,
)
from mainflux.core import http
from mainflux.core.endpoints import DEVICE, SECURE_DEVICE, USER, Endpoint, Reply
from mainflux.core.errors import Conflict, Unauthorized
from mainflux.core.query import MAX_OFFSET

_STATES: Final = {"0": State.INACTIVE, "1": State.ACTIVE}
TAGS: Final = ("bootstrap",)

Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME, examples=["gateway 1"])]
External = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EXTERNAL)]
Text = Annotated[str, msgspec.Meta(description="Any text (empty: none).")]
ChannelIds = Annotated[
    list[str],
    msgspec.Meta(
        description="Ids of the owner's channels (UUIDs; at most "
        f"MF_BOOTSTRAP_MAX_CHANNELS, default {DEFAULT_MAX_CHANNELS}).",
    ),
]


class NewConfig(msgspec.Struct, kw_only=True):
    """A bootstrap config to add. Without `thing_id` a thing named like the config is
    created for it; with one, that thing of the owner's is bound."""

    external_id: Annotated[
        External, msgspec.Meta(description="Unique over all owners.", examples=["aa:bb:cc"])
    ]
    external_key: Annotated[
        External, msgspec.Meta(description="The device's secret.", examples=["a-secret"])
    ]
    thing_id: str | None = None
    name: Name | None = None
    channels: ChannelIds | None = None
    content: Text | None = None
    client_cert: Text | None = None
    client_key: Text | None = None
    ca_cert: Text | None = None


class ConfigUpdate(msgspec.Struct, kw_only=True):
    """A config's new name and content (both replaced; omitted means empty)."""

    name: Name | None = None
    content: Text | None = None


class CertsUpdate(msgspec.Struct, kw_only=True):
    """A config's new certificates (all three replaced; omitted means empty)."""

    client_cert: Text | None = None
    client_key: Text | None = None
    ca_cert: Text | None = None


class ConnectionsUpdate(msgspec.Struct, kw_only=True):
    """A config's new channels (omitted means none)."""

    channels: ChannelIds | None = None


class StateChange(msgspec.Struct, kw_only=True):
    """1 (Active) connects the config's thing to its channels, 0 (Inactive)
    disconnects it."""

    state: Literal[0, 1]


class ConfigChannelView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A config's channel (`name` and `metadata` only when set)."""

    id: str
    name: str = ""
    metadata: dict[str, Any] | None = None


class ConfigView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A config (no certificates; `mainflux_channels`, `content` and `name` only when
    set; lists leave `mainflux_channels` out)."""

    mainflux_id: str
    mainflux_key: str
    mainflux_channels: list[ConfigChannelView] | None = None
    external_id: str
    external_key: str
    content: str = ""
    name: str = ""
    state: Literal[0, 1]


class ConfigsPage(msgspec.Struct):
    """A page of the owner's configs."""

    total: int
    offset: int
    limit: int
    configs: list[ConfigView]


class UnknownConfigView(msgspec.Struct):
    """A bootstrap attempt that matched no config, or not its key."""

    external_id: str
    external_key: str


class UnknownConfigsPage(msgspec.Struct):
    """A page of unknown bootstrap attempts."""

    total: int
    offset: int
    limit: int
    configs: list[UnknownConfigView]


class BootstrapConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a device receives: its thing's id and key, its channels, and what else its
    config holds (each of `content` and the certificates only when set)."""

    mainflux_id: str
    mainflux_key: str
    mainflux_channels: list[ConfigChannelView]
    content: str = ""
    client_cert: str = ""
    client_key: str = ""
    ca_cert: str = ""


Offset = Annotated[int, msgspec.Meta(ge=0, le=MAX_OFFSET, description="Entries to skip.")]
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT, description="Entries per page.")]


class ConfigPaging(msgspec.Struct, kw_only=True):
    """Paging of a list of configs."""

    offset: Offset = 0
    limit: Limit = DEFAULT_LIMIT


class ConfigsQuery(ConfigPaging, kw_only=True):
    """Paging and filters of the owner's configs."""

    name: (
        Annotated[
            str,
            msgspec.Meta(max_length=MAX_NAME, description="Case-insensitive part of the name."),
        ]
        | None
    ) = None
    state: (
        Annotated[Literal["0", "1"], msgspec.Meta(description="0 Inactive, 1 Active.")] | None
    ) = None
    external_id: (
        Annotated[str, msgspec.Meta(max_length=MAX_EXTERNAL, description="Exact external id.")]
        | None
    ) = None
    mainflux_id: (
        Annotated[str, msgspec.Meta(max_length=MAX_EXTERNAL, description="Exact thing id.")] | None
    ) = None
    mainflux_key: (
        Annotated[str, msgspec.Meta(max_length=MAX_EXTERNAL, description="Exact thing key.")] | None
    ) = None


def channel_view(channel: ConfigChannel) -> ConfigChannelView:
    """A config's channel: ``id``, ``name``?, ``metadata``?."""
    return ConfigChannelView(id=channel.id, name=channel.name, metadata=channel.metadata or None)


def config_view(config: Config, *, channels: bool = True) -> ConfigView:
    """A config as ``GET /things/configs/{id}`` shows it (no certificates)."""
    return ConfigView(
        mainflux_id=config.thing_id,
        mainflux_key=config.thing_key,
        mainflux_channels=[channel_view(c) for c in config.channels]
        if channels and config.channels
        else None,
        external_id=config.external_id,
        external_key=config.external_key,
        content=config.content,
        name=config.name,
        state=1 if config.state is State.ACTIVE else 0,
    )


def bootstrap_view(config: Config) -> BootstrapConfig:
    """What a device receives when it bootstraps."""
    return BootstrapConfig(
        mainflux_id=config.thing_id,
        mainflux_key=config.thing_key,
        mainflux_channels=[channel_view(c) for c in config.channels],
        content=config.content,
        client_cert=config.client_cert,
        client_key=config.client_key,
        ca_cert=config.ca_cert,
    )


def _unknown_view(unknown: UnknownConfig) -> UnknownConfigView:
    return UnknownConfigView(unknown.external_id, unknown.external_key)


def _token(request: Request) -> str:
    token = http.auth_header(request)
    if not token:
        raise Unauthorized()
    return token


def _config_spec(body: NewConfig) -> Config:
    return Config(
        thing_id=body.thing_id or "",
        name=body.name or "",
        external_id=body.external_id,
        external_key=body.external_key,
        channels=[ConfigChannel(c) for c in body.channels or []],
        content=body.content or "",
        client_cert=body.client_cert or "",
        client_key=body.client_key or "",
        ca_cert=body.ca_cert or "",
    )


def _filter(query: ConfigsQuery) -> ConfigFilter:
    return ConfigFilter(
        name=query.name or "",
        state=_STATES[query.state] if query.state else None,
        external_id=query.external_id or "",
        thing_id=query.mainflux_id or "",
        thing_key=query.mainflux_key or "",
    )


SECURE_REPLY: Final = (
    "The config, encrypted. **Not JSON**, although `Content-Type` says "
    "`application/json` (as Go Mainflux's does, for its agents): the raw bytes "
    "`IV(16) ‖ AES-CFB(JSON)`, where the JSON is what `GET /things/bootstrap/{external_id}` "
    "answers (with a trailing newline), the AES key is `MF_BOOTSTRAP_ENCRYPT_KEY` and the "
    "IV is fresh each time. Read the body as bytes and decrypt it."
)


def create_app(service: Service, encrypt_key: bytes) -> Starlette:
    """The bootstrap app (service name ``bootstrap``) over ``service``; secure
    bootstrap answers are encrypted with ``encrypt_key``."""

    async def add_config(request: Request, body: NewConfig) -> Response:
        """Adds a config for the caller, Inactive; its id (the thing's) is in `Location`."""
        config = await service.add(_token(request), _config_spec(body))
        return http.empty_response(201, {"Location": f"/things/configs/{config.thing_id}"})

    async def view_config(request: Request) -> Response:
        """One of the caller's configs, certificates left out."""
        config = await service.view(_token(request), request.path_params["id"])
        return http.json_response(config_view(config))

    async def update_config(request: Request, body: ConfigUpdate) -> Response:
        """Replaces the config's name and content."""
        token = _token(request)
        await service.update(token, request.path_params["id"], body.name or "", body.content or "")
        return http.empty_response(200)

    async def update_certs(request: Request, body: CertsUpdate) -> Response:
        """Replaces the config's client certificate, client key and CA certificate."""
        token = _token(request)
        certs = (body.client_cert or "", body.client_key or "", body.ca_cert or "")
        await service.update_certs(token, request.path_params["id"], *certs)
        return http.empty_response(200)

    async def update_connections(request: Request, body: ConnectionsUpdate) -> Response:
        """Replaces the config's channels; for an Active config the thing's connections
        in the things service follow (all or none)."""
        token = _token(request)
        await service.update_connections(token, request.path_params["id"], body.channels or [])
        return http.empty_response(200)

    async def list_configs(request: Request, query: ConfigsQuery) -> Response:
        """The caller's configs, filtered (channels left out)."""
        page = await service.list(_token(request), _filter(query), query.offset, query.limit)
        configs = [config_view(c, channels=False) for c in page.items]
        return http.json_response(ConfigsPage(page.total, page.offset, page.limit, configs))

    async def remove_config(request: Request) -> Response:
        """Removes the config (204 also when there is none); its thing stays."""
        await service.remove(_token(request), request.path_params["id"])
        return http.empty_response(204)

    async def list_unknown_configs(request: Request, query: ConfigPaging) -> Response:
        """Bootstrap attempts that matched no config, or not its key (any valid user
        may list them)."""
        page = await service.list_unknown(_token(request), query.offset, query.limit)
        unknown = [_unknown_view(u) for u in page.items]
        return http.json_response(UnknownConfigsPage(page.total, page.offset, page.limit, unknown))

    async def bootstrap(request: Request) -> Response:
        """A device fetches its config, proving its external key. An unknown external
        id or a wrong key is 404, and is listed among the unknown configs."""
        key = http.auth_header(request)
        config = await service.bootstrap(request.path_params["external_id"], key)
        return http.json_response(bootstrap_view(config))

    async def bootstrap_secure(request: Request) -> Response:
        """Like `GET /things/bootstrap/{external_id}`, with the external key and the
        answer encrypted (AES-CFB, key `MF_BOOTSTRAP_ENCRYPT_KEY`)."""
        key = http.auth_header(request)
        config = await service.bootstrap(request.path_params["external_id"], key, secure=True)
        plain = msgspec.json.encode(bootstrap_view(config)) + b"\n"
        return Response(crypto.encrypt(encrypt_key, plain), media_type=http.JSON)

    async def change_state(request: Request, body: StateChange) -> Response:
        """Activates the config (its thing is connected to its channels) or deactivates
        it (disconnected); the state is saved only when the things service did it all."""
        token = _token(request)
        await service.change_state(token, request.path_params["id"], State(body.state))
        return http.empty_response(200)

    missing = {404: "No such config of the caller's."}
    unavailable = {503: "The things service cannot be reached or did not do its part."}
    config_example = {
        "external_id": "aa:bb:cc",
        "external_key": "a-secret",
        "name": "gateway 1",
        "content": '{"interval": 60}',
    }

    def ep(method: str, path: str, handler: Any, summary: str, **kw: Any) -> Endpoint:
        kw.setdefault("security", USER)
        return Endpoint(method, path, handler, summary=summary, tags=TAGS, **kw)

    routes = [
        ep(
            "POST",
            "/things/configs",
            add_config,
            "Add a config",
            body=NewConfig,
            body_example=config_example,
            ok=Reply(201, "Added.", headers={"Location": "The config's path."}),
            errors={
                400: "Malformed body, or an unknown channel.",
                404: "No such thing of the caller's (`thing_id`).",
                409: "The external id is taken, or the thing already has a config.",
                **unavailable,
            },
        ),
        ep(
            "GET",
            "/things/configs",
            list_configs,
            "List configs",
            query=ConfigsQuery,
            ok=Reply(200, "A page of configs.", ConfigsPage),
        ),
        ep(
            "PATCH",
            "/things/configs/certs/{id}",
            update_certs,
            "Update a config's certificates",
            body=CertsUpdate,
            body_example={"client_cert": "-----BEGIN CERTIFICATE-----...", "ca_cert": ""},
            ok=Reply(200, "Updated."),
            errors=missing,
        ),
        ep(
            "PUT",
            "/things/configs/connections/{id}",
            update_connections,
            "Update a config's channels",
            body=ConnectionsUpdate,
            body_example={"channels": []},
            ok=Reply(200, "Updated."),
            errors={400: "Malformed body, or an unknown channel.", **missing, **unavailable},
        ),
        ep(
            "GET",
            "/things/configs/{id}",
            view_config,
            "View a config",
            ok=Reply(200, "The config.", ConfigView),
            errors=missing,
        ),
        ep(
            "PUT",
            "/things/configs/{id}",
            update_config,
            "Update a config",
            body=ConfigUpdate,
            body_example={"name": "gateway 1", "content": '{"interval": 30}'},
            ok=Reply(200, "Updated."),
            errors=missing,
        ),
        ep(
            "DELETE",
            "/things/configs/{id}",
            remove_config,
            "Remove a config",
            ok=Reply(204, "Removed."),
        ),
        ep(
            "GET",
            "/things/unknown/configs",
            list_unknown_configs,
            "List unknown bootstrap attempts",
            query=ConfigPaging,
            ok=Reply(200, "A page of unknown attempts.", UnknownConfigsPage),
        ),
        ep(
            "GET",
            "/things/bootstrap/secure/{external_id}",
            bootstrap_secure,
            "Bootstrap a device, encrypted",
            security=SECURE_DEVICE,
            ok=Reply(200, SECURE_REPLY, opaque=True),
            errors={
                400: "The decoded key is shorter than its IV (16 bytes).",
                404: "No config with this external id, or a wrong key "
                "(not hex, or not the external key encrypted with the service's key).",
            },
        ),
        ep(
            "GET",
            "/things/bootstrap/{external_id}",
            bootstrap,
            "Bootstrap a device",
            security=DEVICE,
            ok=Reply(200, "The device's config.", BootstrapConfig),
            errors={404: "No config with this external id, or a wrong key."},
        ),
        ep(
            "PUT",
            "/things/state/{id}",
            change_state,
            "Change a config's state",
            body=StateChange,
            body_example={"state": 1},
            ok=Reply(200, "Changed."),
            errors={**missing, **unavailable},
        ),
    ]
    return http.create_app(
        "bootstrap", routes, error_status={Conflict: 409}, title="Mainflux bootstrap"
    )
