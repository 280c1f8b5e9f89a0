"""``mainflux things`` and ``mainflux channels``: create, list, view, update, delete,
connect. The arguments are Mainflux CLI's (``things create '{"name":"x"}' [TOKEN]``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
    print_json,
    print_record,
    print_table,
    session,
)

if TYPE_CHECKING:
    from mainflux.sdk import Channel, Page, Thing

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


def _thing_rows(items: Iterable[Thing]) -> list[list[Any]]:
    return [[t.id, t.name, t.key, t.metadata] for t in items]


def _channel_rows(items: Iterable[Channel]) -> list[list[Any]]:
    return [[c.id, c.name, c.metadata] for c in items]


THING_COLUMNS = ("ID", "NAME", "KEY", "METADATA")
CHANNEL_COLUMNS = ("ID", "NAME", "METADATA")


def _show_list(
    page: Page[Any] | None,
    items: list[Any],
    field: str,
    columns: tuple[str, ...],
    rows: Callable[[list[Any]], list[list[Any]]],
    json: bool,
) -> None:
    if json:
        if page is not None:
            print_json(page.to_json(field))
        else:
            print_json({"total": len(items), field: [i.to_json() for i in items]})
        return
    print_table(columns, rows(items))
    if page is not None:
        page_footer(page.total, page.offset, len(items))


def _id_of(data: dict[str, Any], what: str) -> str:
    entity_id = data.pop("id", None)
    if not isinstance(entity_id, str) or not entity_id:
        fail(f'{what} needs its "id"', USAGE)
    return entity_id


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


@things.command("get")
def get_things(
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
    """Show one thing, or list them (`get all`)."""
    meta = json_argument(metadata, "--metadata") if metadata else None
    with session(ctx, user_token) as s:
        if which != "all":
            one = s.client.thing(s.token, which)
            if json:
                print_json(one.to_json())
            else:
                print_record(
                    [
                        ("id", one.id),
                        ("name", one.name),
                        ("key", one.key),
                        ("metadata", one.metadata),
                    ]
                )
            return
        if every:
            items = list(s.client.iter_things(s.token, name=name, metadata=meta))
            _show_list(None, items, "things", THING_COLUMNS, _thing_rows, json)
            return
        page = s.client.things(s.token, offset, limit, name, meta)
    _show_list(page, page.items, "things", THING_COLUMNS, _thing_rows, json)


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
    _show_list(page, page.items, "channels", CHANNEL_COLUMNS, _channel_rows, json)


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


@channels.command("get")
def get_channels(
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
    """Show one channel, or list them (`get all`)."""
    meta = json_argument(metadata, "--metadata") if metadata else None
    with session(ctx, user_token) as s:
        if which != "all":
            one = s.client.channel(s.token, which)
            if json:
                print_json(one.to_json())
            else:
                print_record([("id", one.id), ("name", one.name), ("metadata", one.metadata)])
            return
        if every:
            items = list(s.client.iter_channels(s.token, name=name, metadata=meta))
            _show_list(None, items, "channels", CHANNEL_COLUMNS, _channel_rows, json)
            return
        page = s.client.channels(s.token, offset, limit, name, meta)
    _show_list(page, page.items, "channels", CHANNEL_COLUMNS, _channel_rows, json)


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
    _show_list(page, page.items, "things", THING_COLUMNS, _thing_rows, json)
