"""``mainflux provision``: bulk things, channels and connections from CSV or JSON files
(through the bulk APIs, 100 per request, with a progress bar), ``provision test`` as
Mainflux's CLI has it, and ``provision mapping`` for the provision service.

File formats (a blank line is skipped):

* things: CSV ``name[,metadata JSON[,key]]``, or JSON ``[{"name", "metadata"?, "key"?}]``
* channels: CSV ``name[,metadata JSON]``, or JSON ``[{"name", "metadata"?}]``
* connect: CSV ``thing_id,channel_id`` (each pair), or JSON ``[{"thing_id", "channel_id"}]``
  or ``{"thing_ids": [...], "channel_ids": [...]}`` (every thing to every channel)."""

from __future__ import annotations

import csv
import json as jsonlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer

from mainflux.cli.session import (
    USAGE,
    JsonOption,
    TokenArgument,
    fail,
    print_json,
    print_record,
    print_table,
    session,
)

if TYPE_CHECKING:
    from mainflux.sdk import Client

provision = typer.Typer(
    help="Bulk-create things, channels and connections from files; onboard gateways.",
    no_args_is_help=True,
)

#: Entities per bulk request (the things service's default bound).
BATCH: Final = 100
#: The largest file read (a provisioning file, not a data set).
MAX_FILE: Final = 16 * 1024 * 1024

FileArgument = Annotated[
    Path, typer.Argument(help="A .csv or .json file.", exists=False, dir_okay=False)
]
T = TypeVar("T")


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE:
            fail(f"{path}: larger than {MAX_FILE} bytes", USAGE)
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}", USAGE)
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text", USAGE)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        fail(f"{path}: the file must end in .csv or .json", USAGE)
    return suffix[1:]


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[str]]]:
    try:
        for number, row in enumerate(csv.reader(text.splitlines()), start=1):
            cells = [c.strip() for c in row]
            if any(cells):
                yield number, cells
    except csv.Error as exc:
        fail(f"{path}: {exc}", USAGE)


def _metadata(path: Path, number: int, text: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = jsonlib.loads(text)
    except ValueError:
        fail(f"{path}:{number}: metadata is not valid JSON", USAGE)
    if not isinstance(value, dict):
        fail(f"{path}:{number}: metadata must be a JSON object", USAGE)
    return value


def _json_list(path: Path, text: str) -> Any:
    try:
        return jsonlib.loads(text)
    except ValueError as exc:
        fail(f"{path}: not valid JSON: {exc}", USAGE)


def _entities(path: Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Things (``fields`` name, metadata, key) or channels (name, metadata) of a file."""
    text = _read(path)
    out: list[dict[str, Any]] = []
    if _kind(path) == "csv":
        for number, cells in _csv_rows(path, text):
            if len(cells) > len(fields):
                fail(f"{path}:{number}: at most {len(fields)} columns: {','.join(fields)}", USAGE)
            entity: dict[str, Any] = {"name": cells[0]}
            if len(cells) > 1 and cells[1]:
                entity["metadata"] = _metadata(path, number, cells[1])
            if len(cells) > 2 and cells[2]:
                entity["key"] = cells[2]
            out.append(entity)
    else:
        data = _json_list(path, text)
        if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
            fail(f"{path}: expected a JSON array of objects", USAGE)
        out = [{k: v for k, v in e.items() if k in fields} for e in data]
    if not out:
        fail(f"{path}: nothing to create", USAGE)
    return out


def _pairs(path: Path) -> list[tuple[list[str], list[str]]]:
    """The connections of a file as (thing ids, channel ids) groups: each group
    connects every thing in it to every channel in it."""
    text = _read(path)
    pairs: list[tuple[str, str]] = []
    if _kind(path) == "csv":
        for number, cells in _csv_rows(path, text):
            if len(cells) != 2 or not all(cells):
                fail(f"{path}:{number}: expected thing_id,channel_id", USAGE)
            pairs.append((cells[0], cells[1]))
    else:
        data = _json_list(path, text)
        if isinstance(data, dict):
            thing_ids, channel_ids = data.get("thing_ids"), data.get("channel_ids")
            if not (_strings(thing_ids) and _strings(channel_ids)):
                fail(f"{path}: thing_ids and channel_ids must be lists of ids", USAGE)
            return [
                (list(thing_ids[i : i + BATCH]), list(channel_ids[j : j + BATCH]))  # type: ignore[index]
                for i in range(0, len(thing_ids), BATCH)  # type: ignore[arg-type]
                for j in range(0, len(channel_ids), BATCH)  # type: ignore[arg-type]
            ]
        if not isinstance(data, list):
            fail(f"{path}: expected a JSON array or object", USAGE)
        for item in data:
            if not (
                isinstance(item, dict)
                and isinstance(item.get("thing_id"), str)
                and isinstance(item.get("channel_id"), str)
            ):
                fail(f"{path}: each connection needs a thing_id and a channel_id", USAGE)
            pairs.append((item["thing_id"], item["channel_id"]))
    if not pairs:
        fail(f"{path}: nothing to connect", USAGE)
    by_thing: dict[str, list[str]] = {}
    for thing, channel in pairs:
        by_thing.setdefault(thing, [])
        if channel not in by_thing[thing]:
            by_thing[thing].append(channel)
    return [
        ([thing], channels[i : i + BATCH])
        for thing, channels in by_thing.items()
        for i in range(0, len(channels), BATCH)
    ]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _batches(items: Sequence[T], what: str, send: Callable[[Sequence[T]], int]) -> None:
    """Send ``items`` in batches of :data:`BATCH` under a progress bar on stderr;
    ``send`` returns how many items a batch counted for."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(what, total=len(items))
        for start in range(0, len(items), BATCH):
            bar.advance(task, send(items[start : start + BATCH]))


def _bulk_command(
    field: str,
    fields: tuple[str, ...],
    create: Callable[[Client, str, Sequence[dict[str, Any]]], list[Any]],
    columns: tuple[str, ...],
    doc: str,
) -> Callable[..., None]:
    """The command that creates the things or channels (``field``) a file lists, in
    bulk batches, and prints what was created (``columns`` name their attributes)."""

    def command(
        ctx: typer.Context,
        file: FileArgument,
        user_token: TokenArgument = None,
        json: JsonOption = False,
    ) -> None:
        specs = _entities(file, fields)
        created: list[Any] = []
        with session(ctx, user_token) as s:
            token = s.token

            def send(batch: Sequence[dict[str, Any]]) -> int:
                created.extend(create(s.client, token, batch))
                return len(batch)

            _batches(specs, field, send)
        if json:
            print_json({field: [e.to_json() for e in created]})
        else:
            print_table(columns, [[getattr(e, c.lower()) for c in columns] for e in created])

    command.__doc__ = doc
    return command


things = provision.command("things")(
    _bulk_command(
        "things",
        ("name", "metadata", "key"),
        lambda client, token, batch: client.create_things(token, batch),
        ("ID", "NAME", "KEY"),
        "Create the things listed in a file.",
    )
)
channels = provision.command("channels")(
    _bulk_command(
        "channels",
        ("name", "metadata"),
        lambda client, token, batch: client.create_channels(token, batch),
        ("ID", "NAME"),
        "Create the channels listed in a file.",
    )
)


@provision.command("connect")
def connect(ctx: typer.Context, file: FileArgument, user_token: TokenArgument = None) -> None:
    """Connect the things and channels listed in a file."""
    groups = _pairs(file)
    with session(ctx, user_token) as s:
        token = s.token

        def send(batch: Sequence[tuple[list[str], list[str]]]) -> int:
            for thing_ids, channel_ids in batch:
                s.client.connect(token, channel_ids, thing_ids)
            return len(batch)

        _batches(groups, "connections", send)
    total = sum(len(t) * len(c) for t, c in groups)
    typer.echo(f"{total} connection(s) made", err=True)


@provision.command("test")
def test(ctx: typer.Context, json: JsonOption = False) -> None:
    """Create a random user with 2 things and 2 channels, all connected (as Mainflux's
    `provision test`), and print them."""
    email = f"{secrets.token_hex(4)}@email.com"
    password = "12345678"
    with session(ctx) as s:
        s.client.create_user(email, password)
        token = s.client.create_token(email, password)
        made_things = s.client.create_things(token, [{"name": "d0"}, {"name": "d1"}])
        made_channels = s.client.create_channels(token, [{"name": "c0"}, {"name": "c1"}])
        s.client.connect(token, [c.id for c in made_channels], [t.id for t in made_things])
    if json:
        print_json(
            {
                "user": {"email": email, "password": password, "token": token},
                "things": [t.to_json() for t in made_things],
                "channels": [c.to_json() for c in made_channels],
            }
        )
        return
    print_record([("email", email), ("password", password), ("token", token)])
    print_table(("THING", "NAME", "KEY"), [[t.id, t.name, t.key] for t in made_things])
    print_table(("CHANNEL", "NAME"), [[c.id, c.name] for c in made_channels])


@provision.command("mapping")
def mapping(
    ctx: typer.Context,
    external_id: str,
    external_key: str,
    user_token: TokenArgument = None,
    name: Annotated[str | None, typer.Option(help="Name of the things created.")] = None,
    json: JsonOption = False,
) -> None:
    """Onboard a gateway through the provision service (POST /mapping): its things,
    channels and bootstrap config, as the service's template says."""
    with session(ctx, user_token) as s:
        result = s.client.provision(s.token, external_id, external_key, name)
    if json:
        print_json(result.to_json())
        return
    print_table(("THING", "NAME", "KEY"), [[t.id, t.name, t.key] for t in result.things])
    print_table(
        ("CHANNEL", "NAME", "METADATA"), [[c.id, c.name, c.metadata] for c in result.channels]
    )
