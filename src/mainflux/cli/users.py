"""``mainflux users`` and ``mainflux keys``: accounts, tokens, passwords, API keys."""

from __future__ import annotations

from typing import Annotated

import typer

from mainflux.cli.session import (
    JsonOption,
    TokenArgument,
    json_argument,
    print_entity,
    print_json,
    session,
)

users = typer.Typer(help="Accounts: create, log in, view, update, passwords.", no_args_is_help=True)
keys = typer.Typer(
    help="API keys: long-lived tokens for scripts and services.", no_args_is_help=True
)


@users.command("create")
def create(
    ctx: typer.Context,
    email: str,
    password: Annotated[str, typer.Argument(help="At least 8 characters.")],
    metadata: Annotated[str | None, typer.Option(help="JSON object stored with the user.")] = None,
) -> None:
    """Register a user."""
    meta = json_argument(metadata, "metadata") if metadata else None
    with session(ctx) as s:
        s.client.create_user(email, password, meta)
    typer.echo(email)


@users.command("token")
def token(ctx: typer.Context, email: str, password: str) -> None:
    """Log in and print the user token (`mainflux login` also saves it)."""
    with session(ctx) as s:
        typer.echo(s.client.create_token(email, password))


@users.command("get")
def get(ctx: typer.Context, user_token: TokenArgument = None, json: JsonOption = False) -> None:
    """Show the user the token belongs to."""
    with session(ctx, user_token) as s:
        user = s.client.user(s.token)
    print_entity(user, [("email", user.email), ("metadata", user.metadata)], json)


@users.command("update")
def update(
    ctx: typer.Context,
    metadata: Annotated[str, typer.Argument(help="JSON object replacing the metadata.")],
    user_token: TokenArgument = None,
) -> None:
    """Replace the user's metadata."""
    meta = json_argument(metadata, "metadata")
    with session(ctx, user_token) as s:
        s.client.update_user(s.token, meta)


@users.command("password")
def password(
    ctx: typer.Context, old_password: str, new_password: str, user_token: TokenArgument = None
) -> None:
    """Change the password."""
    with session(ctx, user_token) as s:
        s.client.update_password(s.token, old_password, new_password)


@users.command("reset-request")
def reset_request(ctx: typer.Context, email: str) -> None:
    """Have a password-reset link mailed to the user."""
    with session(ctx) as s:
        s.client.request_password_reset(email)
    typer.echo(f"a reset link was sent to {email}", err=True)


@users.command("reset")
def reset(
    ctx: typer.Context,
    reset_token: Annotated[str, typer.Argument(help="The token of the reset link.")],
    new_password: str,
) -> None:
    """Set a new password with the token of a reset link."""
    with session(ctx) as s:
        s.client.reset_password(reset_token, new_password)


@keys.command("create")
def create_key(
    ctx: typer.Context,
    duration: Annotated[
        int | None, typer.Option(min=1, help="Seconds the key is valid (default: until revoked).")
    ] = None,
    user_token: TokenArgument = None,
    json: JsonOption = False,
) -> None:
    """Issue an API key and print its value (needs a login token)."""
    with session(ctx, user_token) as s:
        key = s.client.create_key(s.token, duration)
    if json:
        print_json(key.to_json())
    else:
        typer.echo(key.value)
        typer.echo(f"key id {key.id} (revoke it with `mainflux keys revoke {key.id}`)", err=True)


@keys.command("get")
def get_key(
    ctx: typer.Context, key_id: str, user_token: TokenArgument = None, json: JsonOption = False
) -> None:
    """Show what is known of an API key."""
    with session(ctx, user_token) as s:
        info = s.client.key(s.token, key_id)
    fields = [
        ("id", info.id),
        ("type", info.type),
        ("issuer", info.issuer),
        ("issued_at", info.issued_at),
        ("expires_at", info.expires_at or "never"),
    ]
    print_entity(info, fields, json)


@keys.command("revoke")
def revoke_key(ctx: typer.Context, key_id: str, user_token: TokenArgument = None) -> None:
    """Revoke an API key."""
    with session(ctx, user_token) as s:
        s.client.revoke_key(s.token, key_id)
