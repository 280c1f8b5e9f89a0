"""What every platform command shares: where the platform is and which token to send
(flag, environment, ``mainflux login``), the SDK client, output as a table or JSON, and
every failure as one line on stderr with an exit code scripts can rely on.

Heavy modules (httpx, rich, the SDK) are imported only when a command runs, so
``mainflux --help`` stays fast."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer

from mainflux.cli import profile

if TYPE_CHECKING:
    from mainflux.sdk import Client

#: Exit codes (``docs/cli.md``): 2 is a usage error (Click's own).
OK: Final = 0
FAILED: Final = 1
USAGE: Final = 2
NOT_AUTHORIZED: Final = 3
NOT_FOUND: Final = 4
CONFLICT: Final = 5
REJECTED: Final = 6
UNREACHABLE: Final = 7

#: Per-service URLs read from the environment (microservices, Go Mainflux).
SERVICE_URL_VARS: Final = {
    f"{name}_url": f"MAINFLUX_{name.upper()}_URL"
    for name in ("users", "authn", "things", "http", "ws", "reader", "bootstrap", "provision")
}

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOption = Annotated[
    int, typer.Option("--limit", "-l", min=1, help="Items per page (things: at most 100).")
]
OffsetOption = Annotated[int, typer.Option("--offset", "-o", min=0, help="Items to skip.")]
TokenArgument = Annotated[
    str | None,
    typer.Argument(
        help="User token (default: --token, MAINFLUX_TOKEN, then `mainflux login`).",
        show_default=False,
    ),
]


@dataclass(slots=True)
class Target:
    """The root options: ``--url``, ``--token``, ``--insecure``."""

    url: str | None = None
    token: str | None = None
    insecure: bool = False


def fail(message: str, code: int = FAILED) -> NoReturn:
    """Print ``mainflux: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"mainflux: {message}", err=True)
    raise typer.Exit(code)


def target(ctx: typer.Context) -> Target:
    """The root options of this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, Target):
        root.obj = Target()
    return root.obj


class Session:
    """One command's view of the platform: its URL, the token, the SDK client."""

    def __init__(self, ctx: typer.Context, token: str | None = None) -> None:
        options = target(ctx)
        try:
            saved = profile.load()
        except profile.ProfileError as exc:
            fail(str(exc), USAGE)
        env_url = os.environ.get("MAINFLUX_URL", "")
        #: The URL came from a flag, the environment or the saved profile.
        self.explicit = bool(options.url or env_url or saved)
        self.url = options.url or env_url or (saved.url if saved else "") or profile.DEFAULT_URL
        self.url = self.url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            fail(f"the platform URL must start with http:// or https://: {self.url}", USAGE)
        self.saved = saved
        # A saved token goes only to the platform it was issued by.
        saved_token = saved.token if saved and saved.url.rstrip("/") == self.url else ""
        self.token_from_profile = not (token or options.token or os.environ.get("MAINFLUX_TOKEN"))
        self._token = token or options.token or os.environ.get("MAINFLUX_TOKEN") or saved_token
        self.insecure = options.insecure
        #: The user token was asked for (so a refusal may be the token's).
        self.token_used = False
        self._client: Client | None = None

    @property
    def token(self) -> str:
        """The user token; exits with ``NOT_AUTHORIZED`` when there is none."""
        self.token_used = True
        if not self._token:
            fail(
                "no token: run `mainflux login`, or pass --token (or set MAINFLUX_TOKEN)",
                NOT_AUTHORIZED,
            )
        return self._token

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    @property
    def client(self) -> Client:
        """The SDK client for this platform (created on first use)."""
        if self._client is None:
            from mainflux.sdk import Client, Config

            urls = {
                field: os.environ[var]
                for field, var in SERVICE_URL_VARS.items()
                if os.environ.get(var)
            }
            config = Config(base_url=self.url, verify=not self.insecure, **urls)  # type: ignore[arg-type]
            self._client = Client(config)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def exit_code(exc: Exception) -> int:
    """The exit code of an SDK error."""
    from mainflux.sdk import errors

    codes: dict[type[errors.MainfluxError], int] = {
        errors.Unauthorized: NOT_AUTHORIZED,
        errors.NotFound: NOT_FOUND,
        errors.Conflict: CONFLICT,
        errors.BadRequest: REJECTED,
        errors.PayloadTooLarge: REJECTED,
        errors.UnsupportedMediaType: REJECTED,
        errors.Unreachable: UNREACHABLE,
        errors.ServiceUnavailable: UNREACHABLE,
        errors.TooManyRequests: UNREACHABLE,
    }
    for cls in type(exc).__mro__:
        if cls in codes:
            return codes[cls]
    return FAILED


@contextmanager
def session(ctx: typer.Context, token: str | None = None) -> Iterator[Session]:
    """A :class:`Session` whose SDK errors become one line and an exit code."""
    from mainflux.sdk import errors

    current = Session(ctx, token)
    try:
        yield current
    except errors.MainfluxError as exc:
        message = str(exc)
        if (
            isinstance(exc, errors.Unauthorized)
            and exc.status is not None
            and exc.url.startswith("http")
            and current.token_used
            and current.token_from_profile
            and current.saved
        ):
            message += "; the saved token may have expired: run `mainflux login`"
        fail(message, exit_code(exc))
    finally:
        current.close()


# -- reading arguments -----------------------------------------------------------------


def json_argument(text: str, what: str, *, kind: type = dict) -> Any:
    """Parse a JSON command-line argument; exit with ``USAGE`` naming ``what``."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"{what} is not valid JSON: {exc}", USAGE)
    if not isinstance(value, kind):
        fail(f"{what} must be a JSON {'object' if kind is dict else 'array'}", USAGE)
    return value


def split_channel(target: str) -> tuple[str, str | None]:
    """``<channel>[.<subtopic>]`` (Mainflux CLI form) -> channel id and subtopic."""
    channel, _, subtopic = target.partition(".")
    if not channel:
        fail("no channel id given", USAGE)
    return channel, subtopic or None


# -- output ------------------------------------------------------------------------------


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _console() -> Any:
    from rich.console import Console

    # Piped output is not cut to 80 columns: ids and keys stay whole for grep and cut.
    return Console(width=None if sys.stdout.isatty() else 240, highlight=False)


def cell(value: Any) -> str:
    """A value as table text: dicts as compact JSON, ``None`` as empty."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """Print rows under column headers."""
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        title=title or None,
        title_justify="left",
    )
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    _console().print(table)


def print_record(fields: Sequence[tuple[str, Any]]) -> None:
    """Print one entity as ``field  value`` lines."""
    width = max((len(name) for name, _ in fields), default=0)
    for name, value in fields:
        typer.echo(f"{name.ljust(width)}  {cell(value)}")


def print_entity(entity: Any, fields: Sequence[tuple[str, Any]], json: bool) -> None:
    """Print one entity: its JSON with ``--json``, else ``fields`` as a record."""
    if json:
        print_json(entity.to_json())
    else:
        print_record(fields)


def page_footer(total: int, offset: int, shown: int) -> None:
    """Say on stderr which part of a list was shown, when it is not all of it."""
    if shown < total:
        typer.echo(
            f"{shown} of {total} shown from offset {offset}; --offset/--limit or --all for more",
            err=True,
        )
