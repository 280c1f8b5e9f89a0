"""``mainflux login`` and ``mainflux logout``: keep the platform URL and a token in
``~/.config/mainflux/`` (see :mod:`mainflux.cli.profile`) so later commands need
neither."""

from __future__ import annotations

from typing import Annotated

import typer

from mainflux.cli import profile
from mainflux.cli.session import USAGE, fail, session, target


def login(
    ctx: typer.Context,
    email: Annotated[
        str | None, typer.Argument(help="Account email (asked when left out).")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (asked, hidden, when left out).")
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", "-m", help="Platform URL [MAINFLUX_URL].")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="Save this token or API key instead.")
    ] = None,
) -> None:
    """Log in and save the platform URL and token for later commands."""
    if url:
        target(ctx).url = url
    with session(ctx) as s:
        if token:
            user = s.client.user(token)
            saved_token, who = token, user.email
        else:
            who = email or typer.prompt("Email")
            secret = password or typer.prompt("Password", hide_input=True)
            saved_token = s.client.create_token(who, secret)
        try:
            path = profile.save(profile.Profile(url=s.url, token=saved_token, email=who))
        except profile.ProfileError as exc:
            fail(str(exc), USAGE)
        typer.echo(f"logged in as {who} at {s.url} (token saved in {path})", err=True)


def logout() -> None:
    """Forget the saved URL and token."""
    try:
        removed = profile.remove()
    except profile.ProfileError as exc:
        fail(str(exc), USAGE)
    typer.echo("logged out" if removed else "not logged in", err=True)
