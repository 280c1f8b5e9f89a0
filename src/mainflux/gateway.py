"""The all-in-one gateway: one port, routed like Mainflux's nginx.

``/users``, ``/tokens``, ``/password`` go to users; ``/keys`` to authn;
``/things/configs``, ``/things/bootstrap``, ``/things/state`` and ``/things/unknown`` to
bootstrap; ``/mapping`` to provision; other paths under ``/things``,
``/channels``, ``/connect`` and ``/version`` to things; ``GET /channels/<id>/messages``
to the reader; ``/http/...`` and ``/ws/...`` to the HTTP and WebSocket adapters with
the prefix stripped; ``/mqtt`` to MQTT over WebSocket; ``/ui/...`` to the web console,
which ``/`` redirects to. ``GET /.well-known/mainflux`` tells clients (``mainflux
quickstart``) where the other protocols listen. ``/openapi.json`` is one OpenAPI document
of every operation reachable here, merged from the services' own documents by the same
routing rules (an operation a request could not reach is left out) plus the gateway's
own ``/.well-known/mainflux``, and ``/docs`` its reference page. The console's HTML
pages are no API and stay out of it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux.core.endpoints import Reply, Spec
from mainflux.core.openapi import Document, build_document, docs_routes, document_of, merge

_MESSAGES_PATH = re.compile(r"^/channels/[^/]+/messages/?$")
#: The second segments under ``/things`` that are bootstrap's, not the things service's.
_BOOTSTRAP_SEGMENTS = frozenset({"configs", "bootstrap", "state", "unknown"})
_PARAM: Final = re.compile(r"{[^}]+}")
TITLE: Final = "Mainflux"
DESCRIPTION: Final = (
    "Every HTTP API of the all-in-one platform on one port: users, API keys, things and "
    "channels, bootstrap and provision, message reading, and sending messages over HTTP "
    "(`/http`) and WebSocket (`/ws`). Management calls take a user's login token or API "
    "key in `Authorization`, message calls a thing key, both sent as they are (no `Bearer`)."
)


@dataclass(frozen=True, slots=True)
class GatewayApps:
    """The ASGI apps the gateway routes to; ``None`` for a part that is not running."""

    users: ASGIApp
    authn: ASGIApp
    things: ASGIApp
    http: ASGIApp | None = None
    ws: ASGIApp | None = None
    mqtt_ws: ASGIApp | None = None
    reader: ASGIApp | None = None
    console: ASGIApp | None = None
    bootstrap: ASGIApp | None = None
    provision: ASGIApp | None = None
    #: What ``GET /.well-known/mainflux`` answers (ports of MQTT, CoAP, ...).
    about: Mapping[str, Any] = field(default_factory=dict)


#: Where the gateway says what the platform runs and where (RFC 8615 well-known path).
ABOUT_PATH = "/.well-known/mainflux"


class Gateway:
    """Routes each request by path to a service's ASGI app."""

    def __init__(self, apps: GatewayApps) -> None:
        self._apps = apps
        self._by_segment: Mapping[str, ASGIApp] = {
            "users": apps.users,
            "tokens": apps.users,
            "password": apps.users,
            "keys": apps.authn,
            "things": apps.things,
            "channels": apps.things,
            "connect": apps.things,
            "version": apps.things,
            "health": apps.things,
            "metrics": apps.things,
        }
        self._prefixed: Mapping[str, ASGIApp | None] = {"http": apps.http, "ws": apps.ws}
        self._document: Document | None = None
        self._docs = Starlette(routes=docs_routes(self.openapi, TITLE))

    def _target(self, kind: str, method: str, path: str) -> tuple[ASGIApp | None, str]:
        """The app serving a request of ``kind`` (``http``/``websocket``) and the path
        prefix stripped for it (``""`` for none)."""
        segment = path.split("/", 2)[1] if path.startswith("/") else ""
        prefixed = self._prefixed.get(segment)
        if prefixed is not None:
            return prefixed, segment
        if segment == "things" and self._apps.bootstrap is not None:
            second = path.split("/", 3)[2] if path.count("/") >= 2 else ""
            if second in _BOOTSTRAP_SEGMENTS:
                return self._apps.bootstrap, ""
        if segment == "mapping" and self._apps.provision is not None:
            return self._apps.provision, ""
        if segment == "mqtt" and self._apps.mqtt_ws is not None:
            return self._apps.mqtt_ws, ""
        if (
            self._apps.reader is not None
            and kind == "http"
            and method in ("GET", "HEAD")
            and _MESSAGES_PATH.match(path)
        ):
            return self._apps.reader, ""
        if segment in ("openapi.json", "docs"):
            return self._docs, ""
        return self._by_segment.get(segment), ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path: str = scope["path"]
        if self._apps.console is not None and (path == "/ui" or path.startswith("/ui/")):
            await self._console(self._apps.console, scope, receive, send)
            return
        if path == "/" and self._apps.console is not None and scope["type"] == "http":
            await _redirect(send, "/ui/")
            return
        if path == ABOUT_PATH and scope["type"] == "http":
            await _about(self._apps.about, scope, send)
            return
        app, segment = self._target(scope["type"], scope.get("method", "GET"), path)
        if app is None:
            await _not_found(scope, send)
            return
        if segment:
            stripped = path[len(segment) + 1 :] or "/"
            child = dict(scope, path=stripped, root_path=scope.get("root_path", "") + "/" + segment)
            if "raw_path" in scope and scope["raw_path"] is not None:
                child["raw_path"] = scope["raw_path"][len(segment) + 1 :] or b"/"
            await app(child, receive, send)
            return
        await app(scope, receive, send)

    @staticmethod
    async def _console(console: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """The console keeps the full path under ``root_path`` ``/ui`` (ASGI's rule, which
        its mounted static files rely on)."""
        if scope["path"] == "/ui":
            if scope["type"] == "http":
                await _redirect(send, "/ui/")
            else:
                await _not_found(scope, send)
            return
        await console(dict(scope, root_path=scope.get("root_path", "") + "/ui"), receive, send)

    def openapi(self) -> Document:
        """The merged OpenAPI document (built once): each service's operations that
        requests reach through this gateway, under the path they are reached at."""
        if self._document is None:
            self._document = merge(TITLE, self._parts(), DESCRIPTION)
        return self._document

    def _own(self) -> Document:
        """The gateway's own operation, ``GET /.well-known/mainflux``."""
        about = Spec(
            method="GET",
            path=ABOUT_PATH,
            summary="Where the platform listens",
            description="The platform's version and where its other protocols are "
            "served: the HTTP and WebSocket adapters' path prefixes, the MQTT port and "
            "MQTT-over-WebSocket path, the CoAP (UDP) port. `mainflux quickstart` and "
            "the SDK read it.",
            operation_id="about",
            tags=("service",),
            ok=Reply(
                200, "What the platform runs and where.", dict[str, Any], example=self._apps.about
            ),
        )
        return build_document(TITLE, [about])

    def _parts(self) -> list[tuple[str, str, Document]]:
        a = self._apps
        named: list[tuple[str, ASGIApp | None]] = [
            ("things", a.things),
            ("users", a.users),
            ("authn", a.authn),
            ("bootstrap", a.bootstrap),
            ("provision", a.provision),
            ("reader", a.reader),
            ("http", a.http),
            ("ws", a.ws),
            ("mqtt", a.mqtt_ws),
        ]
        parts = [("gateway", "", self._own())]
        for name, app in named:
            document = document_of(app) if app is not None else None
            if app is None or document is None:
                continue
            prefix = "/" + name if self._prefixed.get(name) is app else ""
            parts.append((name, prefix, self._reachable(app, prefix, document)))
        return parts

    def _reachable(self, app: ASGIApp, prefix: str, document: Document) -> Document:
        paths: dict[str, Any] = {}
        for path, operations in document["paths"].items():
            sample = prefix + _PARAM.sub("x", path)
            for method, operation in operations.items():
                kind = "websocket" if "101" in operation["responses"] else "http"
                if self._target(kind, method.upper(), sample)[0] is app:
                    paths.setdefault(path, {})[method] = operation
        return {**document, "paths": paths}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _about(about: Mapping[str, Any], scope: Scope, send: Send) -> None:
    if scope["method"] not in ("GET", "HEAD"):
        refused = b'{"error":"method not allowed"}\n'
        await send(
            {
                "type": "http.response.start",
                "status": 405,
                "headers": [
                    (b"allow", b"GET, HEAD"),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(refused)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": refused})
        return
    body = orjson.dumps(dict(about)) + b"\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _not_found(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"404 page not found\n"})
