"""``mainflux quickstart``: from a running platform to a device sending data.

Logs in (or creates a user), makes a thing and a channel named ``quickstart-*`` (reused
on later runs), connects them, saves the token like ``mainflux login``, and prints
``curl``, ``mosquitto_pub`` and ``coap-client`` commands that publish as that thing."""

from __future__ import annotations

import contextlib
import secrets
import shlex
from typing import TYPE_CHECKING, Annotated, Final
from urllib.parse import urlsplit

import typer

from mainflux.cli import profile
from mainflux.cli.session import USAGE, Session, fail, print_json, session

if TYPE_CHECKING:
    from mainflux.sdk import Client, PlatformInfo

THING_NAME: Final = "quickstart-thing"
CHANNEL_NAME: Final = "quickstart-channel"
PAYLOAD: Final = '[{"bn":"quickstart:","n":"temperature","u":"Cel","v":21.5}]'
DEFAULT_MQTT_PORT: Final = 1883
DEFAULT_COAP_PORT: Final = 5683


def _named(found: list, name: str) -> str | None:  # type: ignore[type-arg]
    for entity in found:
        if entity.name == name:
            return str(entity.id)
    return None


def _account(s: Session, email: str | None, password: str | None) -> tuple[str, str, str | None]:
    """A working token: the current one, or a login (creating the user when needed).
    Returns (token, email, password when one was generated)."""
    from mainflux.sdk import Conflict, Unauthorized

    if s.has_token and not email:
        try:
            return s.token, s.client.user(s.token).email, None
        except Unauthorized:
            pass  # expired: log in again below
    generated = None
    if not email:
        email = f"quickstart-{secrets.token_hex(3)}@example.com"
        password = generated = secrets.token_urlsafe(12)
    elif not password:
        password = typer.prompt("Password", hide_input=True)
    with contextlib.suppress(Conflict):  # an existing account: log into it
        s.client.create_user(email, password)
    try:
        token = s.client.create_token(email, password)
    except Unauthorized:
        fail(f"{email} exists with another password; pass the right --password", 3)
    try:
        profile.save(profile.Profile(url=s.url, token=token, email=email))
    except profile.ProfileError as exc:
        fail(str(exc), USAGE)
    return token, email, generated


def _device(client: Client, token: str) -> tuple[str, str, str]:
    """The quickstart thing (id, key) and channel, created when missing, connected."""
    from mainflux.sdk import Conflict

    thing_id = _named(client.things(token, 0, 100, THING_NAME).items, THING_NAME)
    if thing_id is None:
        thing_id = client.create_thing(token, THING_NAME)
    channel_id = _named(client.channels(token, 0, 100, CHANNEL_NAME).items, CHANNEL_NAME)
    if channel_id is None:
        channel_id = client.create_channel(token, CHANNEL_NAME)
    with contextlib.suppress(Conflict):  # connected by an earlier run
        client.connect(token, [channel_id], [thing_id])
    key = client.thing(token, thing_id).key or ""
    return thing_id, key, channel_id


def _platform_info(client: Client) -> PlatformInfo | None:
    """Where the platform says its protocols listen; ``None`` when it does not say."""
    from mainflux.sdk import MainfluxError

    try:
        return client.platform_info()
    except MainfluxError:
        return None


def commands(
    publish_url: str, host: str, mqtt_port: int, coap_port: int, thing: str, key: str, channel: str
) -> dict[str, str]:
    """Ready-to-paste commands that publish :data:`PAYLOAD` as the thing."""
    q = shlex.quote
    topic = f"channels/{channel}/messages"
    return {
        "curl": (
            f"curl -sS -X POST -H 'Content-Type: application/senml+json' "
            f"-H {q('Authorization: ' + key)} {q(publish_url)} -d {q(PAYLOAD)}"
        ),
        "mosquitto_pub": (
            f"mosquitto_pub -h {q(host)} -p {mqtt_port} -u {q(thing)} -P {q(key)} "
            f"-t {q(topic)} -m {q(PAYLOAD)}"
        ),
        "coap-client": (
            f"coap-client -m post "
            f"{q(f'coap://{host}:{coap_port}/{topic}?authorization={key}')} -e {q(PAYLOAD)}"
        ),
    }


def quickstart(
    ctx: typer.Context,
    email: Annotated[
        str | None, typer.Option(help="Log into (or create) this user (default: logged-in user).")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Its password (asked when left out).")
    ] = None,
    mqtt_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="MQTT port (default: what the platform says, or 1883)."
        ),
    ] = None,
    coap_port: Annotated[
        int, typer.Option(min=1, max=65535, help="CoAP port.")
    ] = DEFAULT_COAP_PORT,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Set up a user, a thing and a channel, and print commands that send data."""
    with session(ctx) as s:
        token, who, generated = _account(s, email, password)
        thing_id, key, channel_id = _device(s.client, token)
        info = _platform_info(s.client) if mqtt_port is None else None
    port = mqtt_port or (info.mqtt_port if info and info.mqtt_port else DEFAULT_MQTT_PORT)
    coap = (
        info.coap_port if info and info.coap_port and coap_port == DEFAULT_COAP_PORT else coap_port
    )
    host = urlsplit(s.url).hostname or "localhost"
    publish = s.client.config.url("http", f"/channels/{channel_id}/messages")
    cmds = commands(publish, host, port, coap, thing_id, key, channel_id)
    if json:
        print_json(
            {
                "url": s.url,
                "user": {"email": who, **({"password": generated} if generated else {})},
                "thing": {"id": thing_id, "key": key},
                "channel": {"id": channel_id},
                "commands": cmds,
            }
        )
        return
    echo = typer.echo
    echo(f"Platform  {s.url}")
    echo(f"User      {who}" + (f"  (password {generated})" if generated else ""))
    echo(f"Thing     {thing_id}  key {key}")
    echo(f"Channel   {channel_id}")
    echo("\nSend a message as the thing (paste one):\n")
    for name, line in cmds.items():
        echo(f"  # {name}")
        echo(f"  {line}\n")
    echo("Then read it back (your token is saved, `mainflux logout` forgets it):\n")
    echo(f"  mainflux messages read {channel_id}")
    echo(f"  mainflux messages watch {channel_id}   # live, Ctrl-C to stop")
