"""``mainflux things`` and ``mainflux channels``: create, list, view, update, delete,
connect. The arguments are Mainflux CLI's (``things create '{"name":"x"}' [TOKEN]``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mainflux.cli.session import (
    USAGE,
    JsonOption,
    LimitOption,
    OffsetOption,
    TokenArgument,
    fail,
    json_argument,
    page_footer,
    print_entity,
    print_json,
    print_table,
    session,
)

if TYPE_CHECKING:
    from mainflux.sdk import Client, Page

things = typer.Typer(
    help="Things (devices and applications): create, get, update, delete, connect.",
    no_args_is_help=True,
)
channels = typer.Typer(
    help="Channels (message topics): create, get, update, delete, connections.",
    no_args_is_help=True,
)

NameOption = Annotated[
    str | None, typer.Option("--name", "-n", help="Only names containing this (any case).")
]
MetadataOption = Annotated[
    str | None, typer.Option("--metadata", help="Only entities whose metadata contains this JSON.")
]
AllOption = Annotated[bool, typer.Option("--all", help="Every page, not just one.")]
IdOrAll = Annotated[str, typer.Argument(help="An id, or `all` for a list.", metavar="all|ID")]


@dataclass(frozen=True, slots=True)
class _Kind:
    """How the commands of things or of channels read and print their entities."""

    field: str  # the JSON field that lists them
    columns: tuple[str, ...]  # each names an attribute of the entity
    one: Callable[[Client, str, str], Any]
    page: Callable[[Client, str, int, int, str | None, Any], Page[Any]]
    every: Callable[[Client, str, str | None, Any], Iterable[Any]]

    def row(self, entity: Any) -> list[Any]:
        return [getattr(entity, column.lower()) for column in self.columns]


THING_COLUMNS = ("ID", "NAME", "KEY", "METADATA")
CHANNEL_COLUMNS = ("ID", "NAME", "METADATA")

THINGS = _Kind(
    "things",
    THING_COLUMNS,
    lambda client, token, thing_id: client.thing(token, thing_id),
    lambda client, token, offset, limit, name, meta: client.things(
        token, offset, limit, name, meta
    ),
    lambda client, token, name, meta: client.iter_things(token, name=name, metadata=meta),
)
CHANNELS = _Kind(
    "channels",
    CHANNEL_COLUMNS,
    lambda client, token, channel_id: client.channel(token, channel_id),
    lambda client, token, offset, limit, name, meta: client.channels(
        token, offset, limit, name, meta
    ),
    lambda client, token, name, meta: client.iter_channels(token, name=name, metadata=meta),
)


def _show_list(kind: _Kind, page: Page[Any] | None, items: list[Any], json: bool) -> None:
    if json:
        if page is not None:
            print_json(page.to_json(kind.field))
        else:
            print_json({"total": len(items), kind.field: [i.to_json() for i in items]})
        return
    print_table(kind.columns, [kind.row(i) for i in items])
    if page is not None:
        page_footer(page.total, page.offset, len(items))


def _id_of(data: dict[str, Any], what: str) -> str:
    entity_id = data.pop("id", None)
    if not isinstance(entity_id, str) or not entity_id:
        fail(f'{what} needs its "id"', USAGE)
    return entity_id


def _get_command(kind: _Kind, doc: str) -> Callable[..., None]:
    """The ``get`` command of things or channels: one entity, one page, or all."""

    def get(
        ctx: typer.Context,
        which: IdOrAll,
        user_token: TokenArgument = None,
        limit: LimitOption = 100,
        offset: OffsetOption = 0,
        name: NameOption = None,
        metadata: MetadataOption = None,
        every: AllOption = False,
        json: JsonOption = False,
    ) -> None:
        meta = json_argument(metadata, "--metadata") if metadata else None
        with session(ctx, user_token) as s:
            if which != "all":
                one = kind.one(s.client, s.token, which)
                labels = [c.lower() for c in kind.columns]
                print_entity(one, list(zip(labels, kind.row(one), strict=True)), json)
                return
            if every:
                _show_list(kind, None, list(kind.every(s.client, s.token, name, meta)), json)
                return
            page = kind.page(s.client, s.token, offset, limit, name, meta)
        _show_list(kind, page, page.items, json)

    get.__doc__ = doc
    return get


# -- things -------------------------------------------------------------------------------


@things.command("create")
def create_thing(
    ctx: typer.Context,
    thing: Annotated[str, typer.Argument(help='JSON: {"name", "key"?, "metadata"?}.')],
    user_token: TokenArgument = None,
    json: JsonOption = False,
) -> None:
    """Create a thing and print its id."""
    data = json_argument(thing, "the thing")
    with session(ctx, user_token) as s:
        thing_id = s.client.create_thing(
            s.token, data.get("name"), data.get("key"), data.get("metadata")
        )
    print_json({"id": thing_id}) if json else typer.echo(thing_id)


get_things = things.command("get")(
    _get_command(THINGS, "Show one thing, or list them (`get all`).")
)


@things.command("update")
def update_thing(
    ctx: typer.Context,
    thing: Annotated[str, typer.Argument(help='JSON: {"id", "name"?, "metadata"?}.')],
    user_token: TokenArgument = None,
) -> None:
    """Replace a thing's name and metadata."""
    data = json_argument(thing, "the thing")
    thing_id = _id_of(data, "the thing")
    with session(ctx, user_token) as s:
        s.client.update_thing(s.token, thing_id, data.get("name"), data.get("metadata"))


@things.command("key")
def update_key(
    ctx: typer.Context, thing_id: str, key: str, user_token: TokenArgument = None
) -> None:
    """Change a thing's key."""
    with session(ctx, user_token) as s:
        s.client.update_thing_key(s.token, thing_id, key)


@things.command("delete")
def delete_thing(ctx: typer.Context, thing_id: str, user_token: TokenArgument = None) -> None:
    """Remove a thing."""
    with session(ctx, user_token) as s:
        s.client.delete_thing(s.token, thing_id)


@things.command("connect")
def connect(
    ctx: typer.Context, thing_id: str, channel_id: str, user_token: TokenArgument = None
) -> None:
    """Connect a thing to a channel."""
    with session(ctx, user_token) as s:
        s.client.connect(s.token, [channel_id], [thing_id])


@things.command("disconnect")
def disconnect(
    ctx: typer.Context, thing_id: str, channel_id: str, user_token: TokenArgument = None
) -> None:
    """Disconnect a thing from a channel."""
    with session(ctx, user_token) as s:
        s.client.disconnect(s.token, channel_id, thing_id)


@things.command("connections")
def thing_connections(
    ctx: typer.Context,
    thing_id: str,
    user_token: TokenArgument = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json: JsonOption = False,
) -> None:
    """List the channels a thing is connected to."""
    with session(ctx, user_token) as s:
        page = s.client.channels_by_thing(s.token, thing_id, offset, limit)
    _show_list(CHANNELS, page, page.items, json)


# -- channels -----------------------------------------------------------------------------


@channels.command("create")
def create_channel(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help='JSON: {"name", "metadata"?}.')],
    user_token: TokenArgument = None,
    json: JsonOption = False,
) -> None:
    """Create a channel and print its id."""
    data = json_argument(channel, "the channel")
    with session(ctx, user_token) as s:
        channel_id = s.client.create_channel(s.token, data.get("name"), data.get("metadata"))
    print_json({"id": channel_id}) if json else typer.echo(channel_id)


get_channels = channels.command("get")(
    _get_command(CHANNELS, "Show one channel, or list them (`get all`).")
)


@channels.command("update")
def update_channel(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help='JSON: {"id", "name"?, "metadata"?}.')],
    user_token: TokenArgument = None,
) -> None:
    """Replace a channel's name and metadata."""
    data = json_argument(channel, "the channel")
    channel_id = _id_of(data, "the channel")
    with session(ctx, user_token) as s:
        s.client.update_channel(s.token, channel_id, data.get("name"), data.get("metadata"))


@channels.command("delete")
def delete_channel(ctx: typer.Context, channel_id: str, user_token: TokenArgument = None) -> None:
    """Remove a channel."""
    with session(ctx, user_token) as s:
        s.client.delete_channel(s.token, channel_id)


@channels.command("connections")
def channel_connections(
    ctx: typer.Context,
    channel_id: str,
    user_token: TokenArgument = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json: JsonOption = False,
) -> None:
    """List the things connected to a channel (with their keys)."""
    with session(ctx, user_token) as s:
        page = s.client.things_by_channel(s.token, channel_id, offset, limit)
    _show_list(THINGS, page, page.items, json)
