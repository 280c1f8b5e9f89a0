"""``mainflux messages``: send (HTTP adapter), read (reader, every filter as an option)
and watch (WebSocket, one line per message).

A thing key can be left out: the command then uses the key of a thing connected to
the channel (read first tries the user token, which this platform's reader accepts
from the channel's owner)."""

from __future__ import annotations

import base64
import json as jsonlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mainflux.cli.session import (
    USAGE,
    JsonOption,
    LimitOption,
    OffsetOption,
    Session,
    fail,
    page_footer,
    print_json,
    print_table,
    session,
    split_channel,
)

if TYPE_CHECKING:
    from mainflux.sdk import Message

messages = typer.Typer(help="Send, read and watch messages.", no_args_is_help=True)

ChannelArgument = Annotated[
    str, typer.Argument(help="Channel id, optionally with a subtopic: CHANNEL[.SUBTOPIC].")
]
KeyArgument = Annotated[
    str | None,
    typer.Argument(
        help="Thing key (default: --key, else a thing connected to the channel).",
        show_default=False,
    ),
]
KeyOption = Annotated[str | None, typer.Option("--key", "-k", help="Thing key.")]
SubtopicOption = Annotated[
    str | None, typer.Option("--subtopic", "-s", help="Subtopic (a/b or a.b).")
]


def connected_key(s: Session, channel: str) -> str:
    """The key of a thing connected to ``channel`` (the user's token asks)."""
    page = s.client.things_by_channel(s.token, channel, 0, 1)
    if not page.items or not page.items[0].key:
        fail(f"no thing is connected to channel {channel}; pass a thing key", USAGE)
    return page.items[0].key


@messages.command("send")
def send(
    ctx: typer.Context,
    channel: ChannelArgument,
    message: Annotated[str, typer.Argument(help="The payload, e.g. SenML JSON.")],
    thing_key: KeyArgument = None,
    key: KeyOption = None,
    subtopic: SubtopicOption = None,
    content_type: Annotated[
        str, typer.Option("--content-type", "-c", help="Content-Type of the payload.")
    ] = "application/senml+json",
) -> None:
    """Publish a message to a channel as a thing."""
    channel_id, dotted = split_channel(channel)
    with session(ctx) as s:
        credential = thing_key or key or connected_key(s, channel_id)
        s.client.send_message(
            credential, channel_id, message.encode(), subtopic or dotted, content_type
        )


def _time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def _value(m: Message) -> Any:
    for value in (m.value, m.string_value, m.bool_value, m.data_value, m.sum):
        if value is not None:
            return value
    return None


@messages.command("read")
def read(
    ctx: typer.Context,
    channel: ChannelArgument,
    credential: Annotated[
        str | None,
        typer.Argument(
            help="Thing key or user token (default: --key, else your token).", show_default=False
        ),
    ] = None,
    key: KeyOption = None,
    limit: LimitOption = 10,
    offset: OffsetOption = 0,
    subtopic: SubtopicOption = None,
    publisher: Annotated[str | None, typer.Option(help="Only this thing's messages.")] = None,
    protocol: Annotated[str | None, typer.Option(help="http, mqtt, ws, coap ...")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="SenML name.")] = None,
    value: Annotated[float | None, typer.Option("--value", "-v", help="Numeric value.")] = None,
    comparator: Annotated[
        str | None, typer.Option(help="How --value compares: eq, lt, le, gt, ge.")
    ] = None,
    string_value: Annotated[str | None, typer.Option(help="String value.")] = None,
    bool_value: Annotated[bool | None, typer.Option(help="Boolean value.")] = None,
    data_value: Annotated[str | None, typer.Option(help="Data value.")] = None,
    from_time: Annotated[
        float | None, typer.Option("--from", help="Record time (unix seconds) at or after.")
    ] = None,
    to_time: Annotated[
        float | None, typer.Option("--to", help="Record time (unix seconds) before.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every page, not just one.")] = False,
    json: JsonOption = False,
) -> None:
    """Read a channel's stored messages, newest first."""
    if comparator is not None and comparator not in ("eq", "lt", "le", "gt", "ge"):
        fail("--comparator must be one of eq, lt, le, gt, ge", USAGE)
    channel_id, dotted = split_channel(channel)
    filters: dict[str, Any] = {
        "subtopic": subtopic or dotted,
        "publisher": publisher,
        "protocol": protocol,
        "name": name,
        "value": value,
        "comparator": comparator,
        "string_value": string_value,
        "bool_value": bool_value,
        "data_value": data_value,
        "from_time": from_time,
        "to_time": to_time,
    }
    from mainflux.sdk import Unauthorized

    with session(ctx) as s:
        explicit = credential or key
        used = explicit or s.token
        try:
            page = s.client.read_messages(used, channel_id, offset, limit, **filters)
        except Unauthorized:
            if explicit:
                raise
            # A reader that takes thing keys only (microservices, Go Mainflux).
            used = connected_key(s, channel_id)
            page = s.client.read_messages(used, channel_id, offset, limit, **filters)
        items = list(s.client.iter_messages(used, channel_id, **filters)) if every else page.items
    if json:
        body = page.to_json("messages")
        if every:
            body.update(offset=0, limit=len(items), messages=[m.to_json() for m in items])
        print_json(body)
        return
    print_table(
        ("TIME", "PUBLISHER", "PROTOCOL", "SUBTOPIC", "NAME", "VALUE", "UNIT"),
        [
            [_time(m.time), m.publisher, m.protocol, m.subtopic, m.name, _value(m), m.unit]
            for m in items
        ],
    )
    if not every:
        page_footer(page.total, page.offset, len(items))


def _line(payload: bytes | str, as_json: bool) -> str:
    text: str | None
    if isinstance(payload, bytes):
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            text = None
    else:
        text = payload
    if text is None:
        encoded = base64.b64encode(payload if isinstance(payload, bytes) else b"").decode()
        return jsonlib.dumps({"base64": encoded}) if as_json else f"base64:{encoded}"
    try:
        parsed = jsonlib.loads(text)
    except ValueError:
        parsed = None
        if as_json:
            return jsonlib.dumps({"text": text}, ensure_ascii=False)
        return text.replace("\r", "\\r").replace("\n", "\\n")
    compact = jsonlib.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
    return jsonlib.dumps({"payload": parsed}, ensure_ascii=False) if as_json else compact


@messages.command("watch")
def watch(
    ctx: typer.Context,
    channel: ChannelArgument,
    thing_key: KeyArgument = None,
    key: KeyOption = None,
    subtopic: SubtopicOption = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many messages.")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line: payload, text or base64.")
    ] = False,
) -> None:
    """Follow a channel live (WebSocket): one line per message until Ctrl-C."""
    channel_id, dotted = split_channel(channel)
    received = 0

    def opened() -> None:
        typer.echo(f"watching channel {channel_id} (Ctrl-C to stop)", err=True)

    with session(ctx) as s:
        credential = thing_key or key or connected_key(s, channel_id)
        stream = s.client.watch(credential, channel_id, subtopic or dotted, on_open=opened)
        try:
            for payload in stream:
                typer.echo(_line(payload, json))
                received += 1
                if count is not None and received >= count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            stream.close()
