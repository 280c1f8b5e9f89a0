"""``mainflux bootstrap``: configs that let a device fetch its thing, key, channels and
content with its external id and key (Mainflux's bootstrap service)."""

from __future__ import annotations

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
    from mainflux.sdk import BootstrapConfig

bootstrap = typer.Typer(
    help="Bootstrap configs: add, view, list, update, remove, whitelist, fetch.",
    no_args_is_help=True,
)


def _show(config: BootstrapConfig, json: bool) -> None:
    print_entity(
        config,
        [
            ("mainflux_id", config.mainflux_id),
            ("mainflux_key", config.mainflux_key),
            ("channels", ", ".join(c.id for c in config.mainflux_channels)),
            ("external_id", config.external_id),
            ("external_key", config.external_key),
            ("name", config.name),
            ("content", config.content),
            ("state", config.state),
        ],
        json,
    )


def _config_id(data: dict[str, Any]) -> str:
    for field in ("thing_id", "mainflux_id", "id"):
        value = data.get(field)
        if isinstance(value, str) and value:
            return value
    fail('the config needs its "thing_id" (or "mainflux_id")', USAGE)


@bootstrap.command("add")
def add(
    ctx: typer.Context,
    config: Annotated[
        str,
        typer.Argument(
            help='JSON: {"external_id", "external_key", "thing_id"?, "channels"?, "name"?, '
            '"content"?, "client_cert"?, "client_key"?, "ca_cert"?}.'
        ),
    ],
    user_token: TokenArgument = None,
) -> None:
    """Add a config; print its thing id."""
    data = json_argument(config, "the config")
    fields = ("thing_id", "channels", "name", "content", "client_cert", "client_key", "ca_cert")
    with session(ctx, user_token) as s:
        thing_id = s.client.add_bootstrap(
            s.token,
            str(data.get("external_id", "")),
            str(data.get("external_key", "")),
            **{f: data[f] for f in fields if data.get(f) is not None},
        )
    typer.echo(thing_id)


@bootstrap.command("view")
def view(
    ctx: typer.Context, thing_id: str, user_token: TokenArgument = None, json: JsonOption = False
) -> None:
    """Show a config."""
    with session(ctx, user_token) as s:
        config = s.client.view_bootstrap(s.token, thing_id)
    _show(config, json)


@bootstrap.command("list")
def list_configs(
    ctx: typer.Context,
    user_token: TokenArgument = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    state: Annotated[int | None, typer.Option(min=0, max=1, help="0 inactive, 1 active.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n")] = None,
    json: JsonOption = False,
) -> None:
    """List configs."""
    with session(ctx, user_token) as s:
        page = s.client.bootstrap_configs(s.token, offset, limit, state=state, name=name)
    if json:
        print_json(page.to_json("configs"))
        return
    print_table(
        ("THING", "NAME", "EXTERNAL ID", "STATE"),
        [[c.mainflux_id, c.name, c.external_id, c.state] for c in page.items],
    )
    page_footer(page.total, page.offset, len(page.items))


@bootstrap.command("update")
def update(
    ctx: typer.Context,
    config: Annotated[str, typer.Argument(help='JSON: {"thing_id", "name"?, "content"?}.')],
    user_token: TokenArgument = None,
) -> None:
    """Replace a config's name and content."""
    data = json_argument(config, "the config")
    with session(ctx, user_token) as s:
        s.client.update_bootstrap(s.token, _config_id(data), data.get("name"), data.get("content"))


@bootstrap.command("connections")
def connections(
    ctx: typer.Context,
    thing_id: str,
    channel_ids: Annotated[list[str], typer.Argument(help="Every channel of the config.")],
    token: Annotated[str | None, typer.Option("--user-token", help="User token.")] = None,
) -> None:
    """Replace a config's channels."""
    with session(ctx, token) as s:
        s.client.update_bootstrap_connections(s.token, thing_id, channel_ids)


@bootstrap.command("remove")
def remove(ctx: typer.Context, thing_id: str, user_token: TokenArgument = None) -> None:
    """Remove a config."""
    with session(ctx, user_token) as s:
        s.client.remove_bootstrap(s.token, thing_id)


@bootstrap.command("whitelist")
def whitelist(
    ctx: typer.Context,
    thing_id: str,
    state: Annotated[int, typer.Argument(min=0, max=1, help="1 active (connect), 0 inactive.")],
    user_token: TokenArgument = None,
) -> None:
    """Activate or deactivate a config."""
    with session(ctx, user_token) as s:
        s.client.whitelist(s.token, thing_id, state)


@bootstrap.command("unknown")
def unknown(
    ctx: typer.Context,
    user_token: TokenArgument = None,
    limit: LimitOption = 100,
    offset: OffsetOption = 0,
    json: JsonOption = False,
) -> None:
    """List devices that asked for a config nobody added."""
    with session(ctx, user_token) as s:
        configs = s.client.unknown_bootstrap_configs(s.token, offset, limit)
    if json:
        print_json({"configs": [c.to_json() for c in configs]})
        return
    print_table(("EXTERNAL ID", "EXTERNAL KEY"), [[c.external_id, c.external_key] for c in configs])


@bootstrap.command("bootstrap")
def fetch(
    ctx: typer.Context, external_id: str, external_key: str, json: JsonOption = False
) -> None:
    """Fetch a config as its device does, with its external id and key."""
    with session(ctx) as s:
        config = s.client.bootstrap(external_id, external_key)
    _show(config, json)
