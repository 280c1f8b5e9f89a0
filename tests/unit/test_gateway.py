"""The all-in-one gateway routes each path to the right service, like Mainflux's nginx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mainflux.gateway import Gateway, GatewayApps


class Recorder:
    """A fake service app: answers 200 with its name and remembers the paths it saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append((scope["path"], scope.get("root_path", "")))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.name.encode()})


@pytest.fixture
def apps() -> dict[str, Recorder]:
    names = (
        "users",
        "authn",
        "things",
        "http",
        "ws",
        "mqtt_ws",
        "reader",
        "bootstrap",
        "provision",
    )
    return {name: Recorder(name) for name in names}


@pytest.fixture
def client(apps: dict[str, Any]) -> httpx.AsyncClient:
    gateway = Gateway(GatewayApps(**apps))
    return httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gw")


@pytest.mark.parametrize(
    ("method", "path", "service", "seen_path"),
    [
        ("POST", "/users", "users", "/users"),
        ("POST", "/tokens", "users", "/tokens"),
        ("PATCH", "/password", "users", "/password"),
        ("POST", "/password/reset-request", "users", "/password/reset-request"),
        ("POST", "/keys", "authn", "/keys"),
        ("GET", "/things/abc", "things", "/things/abc"),
        ("GET", "/things", "things", "/things"),
        ("POST", "/things/bulk", "things", "/things/bulk"),
        ("POST", "/things/configs", "bootstrap", "/things/configs"),
        ("GET", "/things/configs/abc", "bootstrap", "/things/configs/abc"),
        ("PATCH", "/things/configs/certs/abc", "bootstrap", "/things/configs/certs/abc"),
        ("GET", "/things/bootstrap/aa:bb", "bootstrap", "/things/bootstrap/aa:bb"),
        ("GET", "/things/bootstrap/secure/x", "bootstrap", "/things/bootstrap/secure/x"),
        ("PUT", "/things/state/abc", "bootstrap", "/things/state/abc"),
        ("GET", "/things/unknown/configs", "bootstrap", "/things/unknown/configs"),
        ("POST", "/mapping", "provision", "/mapping"),
        ("GET", "/channels/abc", "things", "/channels/abc"),
        ("GET", "/channels/abc/things", "things", "/channels/abc/things"),
        ("POST", "/connect", "things", "/connect"),
        ("GET", "/version", "things", "/version"),
        ("GET", "/metrics", "things", "/metrics"),
        ("GET", "/channels/abc/messages", "reader", "/channels/abc/messages"),
        ("POST", "/channels/abc/messages", "things", "/channels/abc/messages"),
        ("POST", "/http/channels/abc/messages/a/b", "http", "/channels/abc/messages/a/b"),
        ("GET", "/http", "http", "/"),
        ("GET", "/ws/", "ws", "/"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_each_path_reaches_its_service(
    client: httpx.AsyncClient,
    apps: dict[str, Recorder],
    method: str,
    path: str,
    service: str,
    seen_path: str,
) -> None:
    reply = await client.request(method, path)
    assert reply.text == service
    assert apps[service].seen[-1][0] == seen_path


async def test_a_prefixed_service_learns_its_root_path(
    client: httpx.AsyncClient, apps: dict[str, Recorder]
) -> None:
    await client.post("/http/channels/c/messages")
    assert apps["http"].seen[-1] == ("/channels/c/messages", "/http")


@pytest.mark.parametrize("path", ["/", "/nowhere", "/httpx/channels", "//users"])
async def test_unknown_paths_are_plain_404(
    client: httpx.AsyncClient, apps: dict[str, Recorder], path: str
) -> None:
    reply = await client.get(path)
    assert reply.status_code == 404
    assert reply.text == "404 page not found\n"
    assert not any(app.seen for app in apps.values())


async def test_a_missing_part_answers_404_instead_of_failing(apps: dict[str, Any]) -> None:
    gateway = Gateway(GatewayApps(users=apps["users"], authn=apps["authn"], things=apps["things"]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(gateway), base_url="http://gw"
    ) as client:
        assert (await client.post("/http/channels/c/messages")).status_code == 404
        assert (await client.get("/mqtt")).status_code == 404
        # Without a reader, message reads fall through to things, as on Go Mainflux.
        assert (await client.get("/channels/c/messages")).text == "things"


async def test_the_console_answers_under_ui_and_root_redirects_there(
    apps: dict[str, Any],
) -> None:
    console = Recorder("console")
    gateway = Gateway(GatewayApps(**apps, console=console))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(gateway), base_url="http://gw"
    ) as client:
        for path in ("/", "/ui"):
            reply = await client.get(path)
            assert (reply.status_code, reply.headers["location"]) == (302, "/ui/"), path
        assert (await client.get("/ui/things/1")).text == "console"
        # The console sees the full path under its root path (ASGI's rule).
        assert console.seen == [("/ui/things/1", "/ui")]
        assert (await client.get("/uix")).status_code == 404
        assert (await client.get("/things")).text == "things"  # the API keeps its paths
