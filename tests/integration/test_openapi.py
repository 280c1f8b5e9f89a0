"""Every HTTP service's OpenAPI document: valid 3.1, served with its reference page, and
equal to the routes the service really has (a route missing from the document, or a
documented operation no request reaches, fails here)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mainflux.adapters.coap import create_http_app as create_coap_http_app
from mainflux.adapters.http.api import create_app as create_http_app
from mainflux.adapters.ws import create_app as create_ws_app
from mainflux.authn.api import create_app as create_authn_app
from mainflux.bootstrap.api import create_app as create_bootstrap_app
from mainflux.console.app import ConsoleConfig
from mainflux.console.app import create_app as create_console_app
from mainflux.console.client import PlatformClient, ServiceUrls
from mainflux.console.commands import Endpoints
from mainflux.core.db import create_engine
from mainflux.core.errors import Unauthorized
from mainflux.core.http import create_app
from mainflux.core.openapi import document_of, openapi_path
from mainflux.gateway import Gateway, GatewayApps
from mainflux.messaging.inproc import InProcessBus
from mainflux.provision.api import create_app as create_provision_app
from mainflux.readers.api import create_app as create_reader_app
from mainflux.things.api import create_app as create_things_app
from mainflux.things.authapi import create_auth_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service
from mainflux.users.api import create_app as create_users_app

_PARAM = re.compile(r"{[^}]+}")
TOKEN = "owner-token"


class OneUser:
    """A user-auth port that knows one token."""

    async def identify(self, token: str) -> str:
        if token != TOKEN:
            raise Unauthorized()
        return "owner@example.com"

    async def issue(self, issuer: str, key_type: int) -> str:
        raise Unauthorized()


class Refusing:
    """Any port: every call is refused, so each request stops at a documented 403."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise Unauthorized()

        return refuse


def _apps() -> dict[str, Any]:
    no = Refusing()
    return {
        "users": create_users_app(no),  # type: ignore[arg-type]
        "authn": create_authn_app(no),  # type: ignore[arg-type]
        "things": create_things_app(no),  # type: ignore[arg-type]
        "things-auth": create_auth_app(no),  # type: ignore[arg-type]
        "reader": create_reader_app(no, no, no),  # type: ignore[arg-type]
        "http": create_http_app(no, InProcessBus()),  # type: ignore[arg-type]
        "ws": create_ws_app(no, InProcessBus()),  # type: ignore[arg-type]
        "bootstrap": create_bootstrap_app(no, bytes(16)),  # type: ignore[arg-type]
        "provision": create_provision_app(no),  # type: ignore[arg-type]
        "coap": create_coap_http_app(),
    }


def _console() -> Any:
    """The web console, its APIs nowhere (its pages are not asked for here)."""
    nowhere = "http://127.0.0.1:9"
    urls = ServiceUrls(nowhere, nowhere, nowhere, nowhere, nowhere)
    endpoints = Endpoints(nowhere, nowhere, "127.0.0.1", 1883, nowhere)
    config = ConsoleConfig(PlatformClient(urls), lambda _request: endpoints)
    return create_console_app(config, own_lifespan=False)


APPS = _apps()


def _gateway() -> Gateway:
    a = APPS
    return Gateway(
        GatewayApps(
            users=a["users"],
            authn=a["authn"],
            things=a["things"],
            http=a["http"],
            ws=a["ws"],
            reader=a["reader"],
            bootstrap=a["bootstrap"],
            provision=a["provision"],
            console=_console(),
        )
    )


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}


def _routes(app: Any) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every route the app (or the framework app behind an
    adapter's own handler) declares for the schema."""
    starlette = app if isinstance(app, Starlette) else app.fallback
    found = set()
    for route in starlette.routes:
        if isinstance(route, Route) and route.include_in_schema:
            for method in (route.methods or set()) - {"HEAD"}:
                found.add((method, openapi_path(route.path)))
    return found


async def _call(app: Any, method: str, path: str, operation: dict[str, Any]) -> httpx.Response:
    url = _PARAM.sub("x", path)
    headers = {"Authorization": "some-key"}
    content = None
    if "requestBody" in operation:
        media = next(iter(operation["requestBody"]["content"]))
        headers["Content-Type"] = "application/json" if media.endswith("json") else media
        example = operation["requestBody"]["content"][media].get("example")
        content = "{}" if example is None else httpx.Request("GET", "/", json=example).content
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, url, headers=headers, content=content)


def _routed(response: httpx.Response) -> bool:
    """Whether a route took the request (the router itself answers 404 and 405)."""
    unknown = response.status_code == 404 and response.text == "404 page not found\n"
    return not unknown and response.status_code != 405


@pytest.mark.parametrize("name", list(APPS))
async def test_the_document_is_valid_openapi_3_1(name: str) -> None:
    transport = httpx.ASGITransport(app=APPS[name])
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    assert document["servers"] == [{"url": "/"}]


@pytest.mark.parametrize("name", list(APPS))
async def test_every_route_is_documented_and_every_operation_is_routed(name: str) -> None:
    app = APPS[name]
    document = document_of(app)
    assert document is not None
    operations = _operations(document)
    routes = _routes(app)
    assert routes - operations == set(), "routes missing from the document"
    raw = operations - routes  # served by the adapter's own handler in front
    assert all(path.startswith("/channels/") for _, path in raw), raw
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            response = await _call(app, method.upper(), path, operation)
            assert _routed(response), f"{method.upper()} {path}: {response.status_code}"


def test_a_route_without_a_declaration_stops_the_app() -> None:
    async def hidden(request: Request) -> Response:
        return Response()

    with pytest.raises(ValueError, match="GET /hidden"):
        create_app("x", [Route("/hidden", hidden, methods=["GET"])])
    create_app("x", [Route("/hidden", hidden, methods=["GET"], include_in_schema=False)])


async def test_the_gateway_document_holds_every_reachable_operation_once() -> None:
    gateway = _gateway()
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        document = (await client.get("/openapi.json")).json()
    validate(document)
    operations = _operations(document)
    expected = {
        ("POST", "/users"),
        ("POST", "/tokens"),
        ("POST", "/keys"),
        ("GET", "/things"),
        ("POST", "/connect"),
        ("GET", "/channels/{channel}/messages"),
        ("POST", "/http/channels/{id}/messages/{subtopic}"),
        ("GET", "/ws/channels/{id}/messages"),
        ("GET", "/version"),
        ("GET", "/http/version"),
        ("POST", "/things/configs"),
        ("GET", "/things/configs/{id}"),
        ("PUT", "/things/state/{id}"),
        ("GET", "/things/bootstrap/{external_id}"),
        ("GET", "/things/bootstrap/secure/{external_id}"),
        ("POST", "/mapping"),
        ("GET", "/.well-known/mainflux"),
    }
    assert expected <= operations
    # The services' own /version answer only on their own ports: things' wins here.
    assert document["paths"]["/version"]["get"]["operationId"] == "version"
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            response = await _call(gateway, method.upper(), path, operation)
            assert _routed(response), f"{method.upper()} {path}: {response.status_code}"
    # Every operation of each service that the gateway reaches is in the document.
    services = ["users", "authn", "bootstrap", "provision"]
    for name, prefix in [*((n, "") for n in services), ("http", "/http"), ("ws", "/ws")]:
        own = document_of(APPS[name])
        assert own is not None
        for method, path in _operations(own):
            if path not in ("/version", "/health", "/metrics"):
                assert (method, prefix + path) in operations, (name, method, path)
    # The console's HTML pages are no API: left out, and the console serves no document.
    assert not any(path == "/ui" or path.startswith("/ui/") for path in document["paths"])


async def test_where_the_platform_listens_refuses_other_methods_with_the_error_body() -> None:
    transport = httpx.ASGITransport(app=_gateway())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.post("/.well-known/mainflux", content=b"{}")
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed"}
    assert response.headers["allow"] == "GET, HEAD"


async def test_the_console_serves_no_document() -> None:
    transport = httpx.ASGITransport(app=_gateway())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for path in ("/ui/openapi.json", "/ui/docs"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "text/html" in response.headers["content-type"], path


def test_bootstrap_and_provision_document_their_credentials() -> None:
    bootstrap = document_of(APPS["bootstrap"])
    provision = document_of(APPS["provision"])
    assert bootstrap is not None and provision is not None
    paths = bootstrap["paths"]
    assert paths["/things/configs"]["post"]["security"] == [{"userToken": []}, {"apiKey": []}]
    assert "409" in paths["/things/configs"]["post"]["responses"]
    device = paths["/things/bootstrap/{external_id}"]["get"]
    assert device["security"] == [{"externalKey": []}]
    secure = paths["/things/bootstrap/secure/{external_id}"]["get"]
    assert secure["security"] == [{"encryptedExternalKey": []}]
    # The encrypted answer is bytes: documented without a schema, not as JSON.
    assert secure["responses"]["200"]["content"] == {"application/json": {}}
    assert "Not JSON" in secure["responses"]["200"]["description"]
    mapping = provision["paths"]["/mapping"]["post"]
    assert mapping["security"] == [{"userToken": []}, {"apiKey": []}, {}], "optional"
    assert {"201", "400", "403", "409", "413", "415", "503"} <= set(mapping["responses"])


@pytest.mark.parametrize("prefix", ["", "/http", "/ws"], ids=["gateway", "http", "ws"])
async def test_docs_page_is_served_from_the_package(prefix: str) -> None:
    transport = httpx.ASGITransport(app=_gateway())
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        page = await client.get(f"{prefix}/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "//" not in page.text.replace("<!doctype", ""), "nothing from another host"
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            served = await client.get(f"{prefix}/{asset}")
            assert served.status_code == 200, asset
            assert len(served.content) > 500, asset
        assert (await client.get(f"{prefix}/docs/%2E%2E%2Fusers")).status_code == 404
        assert (await client.get(f"{prefix}/docs/index.html")).status_code == 404
        document = (await client.get(f"{prefix}/openapi.json")).json()
        assert document["servers"] == [{"url": prefix or "/"}]


async def test_another_method_is_405_with_the_error_body() -> None:
    transport = httpx.ASGITransport(app=APPS["things"])
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.patch("/connect")
    assert response.status_code == 405
    assert response.json() == {"error": "method not allowed"}


async def test_a_malformed_id_answers_a_documented_status(sqlite_url: str) -> None:
    """Found by the contract fuzzer: ``DELETE /things/0`` answered 400, undocumented."""
    engine = create_engine(sqlite_url)
    service = await build_service(engine, OneUser(), None, InMemoryAccessCache())
    app = create_things_app(service)
    document = document_of(app)
    assert document is not None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as client:
        for method, path in [
            ("DELETE", "/things/0"),
            ("DELETE", "/channels/0"),
            ("GET", "/things/0"),
            ("PUT", "/channels/0/things/0"),
            ("DELETE", "/channels/0/things/0"),
        ]:
            response = await client.request(method, path, headers={"Authorization": TOKEN})
            template = re.sub(r"/0(?=/|$)", "/{id}", path)
            if "/things/0" in path and path.startswith("/channels"):
                template = "/channels/{chan_id}/things/{thing_id}"
            documented = document["paths"][template][method.lower()]["responses"]
            assert str(response.status_code) in documented, (method, path, response.text)
    await engine.dispose()
