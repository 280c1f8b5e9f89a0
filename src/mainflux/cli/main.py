"""The ``mainflux`` command: run the all-in-one platform or one service, read events, and
drive a running platform (users, things, channels, messages, provision, bootstrap) with
the SDK. Command modules import the SDK, httpx and rich only when a command runs."""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from mainflux import __version__
from mainflux.cli import account, quickstart
from mainflux.cli.bootstrap import bootstrap
from mainflux.cli.entities import channels, things
from mainflux.cli.messages import messages
from mainflux.cli.provision import provision
from mainflux.cli.session import Session, Target, print_json, session
from mainflux.cli.users import keys, users

app = typer.Typer(
    help="Mainflux for Python: an IoT platform compatible with Mainflux 0.11.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _platform(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            "-m",
            help="Platform URL [MAINFLUX_URL, else `mainflux login`'s, else "
            "http://localhost:8080].",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="User token [MAINFLUX_TOKEN, else `mainflux login`'s].", show_default=False
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", "-i", help="Do not verify the platform's TLS certificate.")
    ] = False,
) -> None:
    """Options of the commands that talk to a running platform."""
    ctx.obj = Target(url=url, token=token, insecure=insecure)


#: ``mainflux serve <name>`` -> the module whose ``main()`` runs that service.
SERVICES: dict[str, str] = {
    "users": "mainflux.users.main",
    "authn": "mainflux.authn.main",
    "things": "mainflux.things.main",
    "http": "mainflux.adapters.http.main",
    "ws": "mainflux.adapters.ws.main",
    "mqtt": "mainflux.adapters.mqtt.main",
    "coap": "mainflux.adapters.coap.main",
    "postgres-writer": "mainflux.writers.main",
    "postgres-reader": "mainflux.readers.main",
    "ui": "mainflux.console.main",
    "bootstrap": "mainflux.bootstrap.main",
    "provision": "mainflux.provision.main",
}


class _RunCommand(TyperCommand):
    """``mainflux run``: its help ends with every variable of the all-in-one and its
    default, generated from the settings class (imported only when help is asked)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # Typer's own click types
        from mainflux.core.settings import variable_table
        from mainflux.settings import AllInOneSettings

        super().format_help(ctx, formatter)
        formatter.write("\nEnvironment variables (a flag wins over its variable):\n")
        formatter.write(variable_table(AllInOneSettings) + "\n")


@app.command(cls=_RunCommand)
def run(
    port: Annotated[int | None, typer.Option(help="Gateway port [MF_GATEWAY_PORT, 8080]")] = None,
    mqtt_port: Annotated[
        int | None, typer.Option(help="MQTT port [MF_MQTT_ADAPTER_MQTT_PORT, 1883]")
    ] = None,
    coap_port: Annotated[
        int | None, typer.Option(help="CoAP port, UDP [MF_COAP_ADAPTER_PORT, 5683]")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="Data directory [MF_DATA_DIR, ./data]")
    ] = None,
    db_url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL instead of SQLite [MF_DB_URL]")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis URL for events and cache [MF_REDIS_URL]")
    ] = None,
    nats_url: Annotated[
        str | None, typer.Option(help="NATS URL instead of the in-process bus [MF_NATS_URL]")
    ] = None,
) -> None:
    """Run every service in one process (the all-in-one platform)."""
    from mainflux import allinone

    allinone.main(
        {
            "MF_GATEWAY_PORT": port,
            "MF_MQTT_ADAPTER_MQTT_PORT": mqtt_port,
            "MF_COAP_ADAPTER_PORT": coap_port,
            "MF_DATA_DIR": data_dir,
            "MF_DB_URL": db_url,
            "MF_REDIS_URL": redis_url,
            "MF_NATS_URL": nats_url,
        }
    )


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def serve(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}")] = "",
) -> None:
    """Run one service as its own process, configured by its MF_* variables
    (`mainflux serve <service> --help` lists them)."""
    if service in ("-h", "--help"):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    module = SERVICES.get(service)
    if module is None:
        which = f"unknown service {service!r}" if service else "no service given"
        typer.echo(f"mainflux: {which}; one of: {', '.join(SERVICES)}", err=True)
        raise typer.Exit(2)
    sys.argv = [f"mainflux-{service}", *ctx.args]
    importlib.import_module(module).main()


@app.command()
def events(
    stream: Annotated[str, typer.Argument(help="Stream name, e.g. mainflux.things")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Wait for new entries")] = False,
    data_dir: Annotated[str | None, typer.Option(help="Data directory [MF_DATA_DIR]")] = None,
    db_url: Annotated[str | None, typer.Option(help="Database URL [MF_DB_URL]")] = None,
    redis_url: Annotated[str | None, typer.Option(help="Redis URL [MF_REDIS_URL]")] = None,
) -> None:
    """Print the entries of an event stream (Redis when configured, else the embedded log)."""
    from mainflux.cli.events import print_stream

    code = asyncio.run(
        print_stream(
            stream,
            follow=follow,
            overrides={"MF_DATA_DIR": data_dir, "MF_DB_URL": db_url, "MF_REDIS_URL": redis_url},
        )
    )
    raise typer.Exit(code)


@app.command()
def version(
    ctx: typer.Context,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the version; with a platform configured (--url, MAINFLUX_URL or `mainflux
    login`), its things service's version too."""
    current = Session(ctx)
    if not current.explicit:
        print_json({"cli": __version__}) if json else typer.echo(__version__)
        return
    with session(ctx) as s:
        remote = s.client.version("things")
    if json:
        print_json({"cli": __version__, "platform": {**remote.to_json(), "url": s.url}})
    else:
        typer.echo(__version__)
        typer.echo(f"{remote.service} {remote.version} at {s.url}")


app.add_typer(users, name="users")
app.add_typer(keys, name="keys")
app.add_typer(things, name="things")
app.add_typer(channels, name="channels")
app.add_typer(messages, name="messages")
app.add_typer(provision, name="provision")
app.add_typer(bootstrap, name="bootstrap")
app.command()(quickstart.quickstart)
app.command()(account.login)
app.command()(account.logout)
