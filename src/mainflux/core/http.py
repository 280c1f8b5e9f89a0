"""The HTTP side shared by every service: app factory, error table, request parsing.

Every service builds its Starlette app with :func:`create_app` from its
:class:`~mainflux.core.endpoints.Endpoint` routes. The app adds ``/version``,
``/health`` and ``/metrics``, serves its OpenAPI document at ``/openapi.json`` and a
reference page at ``/docs`` (:mod:`mainflux.core.openapi`), maps domain errors to
status codes in one table, answers every error with the JSON error body (a request body
over ``MF_HTTP_MAX_BODY`` is 413, another method than the route's 405), and answers
unknown routes with Go Mainflux's plain-text 404. Query parameters are read with
:mod:`mainflux.core.query`."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mainflux import __version__
from mainflux.core import errors
from mainflux.core.endpoints import Endpoint, Reply, Spec
from mainflux.core.health import CHECKS, Timing
from mainflux.core.limits import max_body_from_env
from mainflux.core.metrics import LATENCY, REQUESTS, exposition
from mainflux.core.openapi import Document, build_document, docs_routes, specs_of, undocumented

JSON = "application/json"

#: Default status per error class; a service may override one (users: conflict 409).
ERROR_STATUS: Mapping[type[errors.MainfluxError], int] = {
    errors.MalformedEntity: 400,
    errors.Unauthorized: 403,
    errors.NotFound: 404,
    errors.Conflict: 422,
    errors.UnsupportedContentType: 415,
    errors.PayloadTooLarge: 413,
    errors.ServiceUnavailable: 503,
}


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Encode ``body`` (plain data or a msgspec Struct) as JSON with a trailing newline,
    as Go's ``json.Encoder`` does."""
    if isinstance(body, msgspec.Struct):
        content = msgspec.json.encode(body) + b"\n"
    else:
        content = orjson.dumps(body) + b"\n"
    return Response(content, status_code=status, headers=headers, media_type=JSON)


def empty_response(status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """An empty body that still says ``application/json``, like Mainflux."""
    return Response(b"", status_code=status, headers=headers, media_type=JSON)


def error_response(err: errors.MainfluxError, status: int) -> Response:
    """The ``{"error": ...}`` body for a domain error."""
    return json_response({"error": str(err)}, status)


async def read_json(request: Request, *, check_content_type: bool = True) -> Any:
    """Return the parsed JSON body.

    Raises :class:`UnsupportedContentType` when the ``Content-Type`` header does not
    contain ``application/json`` (a substring test, like Mainflux), and
    :class:`MalformedEntity` when the body is not JSON."""
    if check_content_type and JSON not in request.headers.get("content-type", ""):
        raise errors.UnsupportedContentType()
    body = await request.body()
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.MalformedEntity("malformed JSON body") from None


async def read_json_object(request: Request, *, check_content_type: bool = True) -> dict:
    """Like :func:`read_json`, but the body must be a JSON object."""
    data = await read_json(request, check_content_type=check_content_type)
    if not isinstance(data, dict):
        raise errors.MalformedEntity("expected a JSON object")
    return data


def auth_header(request: Request) -> str:
    """The raw ``Authorization`` value (Mainflux uses no ``Bearer`` prefix)."""
    return request.headers.get("authorization", "")


def _error_handler(table: Mapping[type[errors.MainfluxError], int]) -> Callable:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.MainfluxError)
        for cls in type(exc).__mro__:
            if cls in table:
                return error_response(exc, table[cls])
        return error_response(exc, 500)

    return handle


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return PlainTextResponse("404 page not found\n", 404)
    message = (exc.detail or "").lower() or "request refused"
    return json_response({"error": message}, exc.status_code, headers=exc.headers)


class BodyLimitMiddleware:
    """Answers 413 (JSON error body) to a request body over ``max_body`` bytes: at once
    when ``Content-Length`` says so, else as soon as the streamed body grows past it."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = errors.PayloadTooLarge(f"request body larger than {self.max_body} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                response = error_response(too_large, 413)
                response.headers["connection"] = "close"
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise too_large
            return message

        await self.app(scope, limited, send)


class MetricsMiddleware:
    """Counts every request and its latency under the service's label."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            REQUESTS.labels(self.service, scope["method"], str(status)).inc()
            LATENCY.labels(self.service).observe(time.perf_counter() - start)


class Version(msgspec.Struct):
    """The service's name and version."""

    service: str
    version: str


class Check(msgspec.Struct, omit_defaults=True):
    """One dependency's state: ``pass``, or ``fail`` with the reason."""

    status: str
    error: str | None = None


class Health(msgspec.Struct):
    """The service's state: ``pass`` when it and every dependency it watches are up,
    else ``fail``; ``checks`` has one entry per dependency (database, nats,
    event stream, things, ...)."""

    status: str
    service: str
    version: str
    checks: dict[str, Check] = {}


def service_routes(service: str) -> list[BaseRoute]:
    """``/version``, ``/health`` and ``/metrics`` for a service named ``service``."""

    async def version(request: Request) -> Response:
        """The service's name and version."""
        return json_response(Version(service, __version__))

    timing = Timing.from_env()

    async def health(request: Request) -> Response:
        """The state of the service and of each dependency it relies on (its database,
        NATS, Redis event stream, the things service), probed at most every
        ``MF_HEALTH_INTERVAL`` seconds: 200 when all are up, 503 naming what is down."""
        results = await CHECKS.results(timing)
        checks = {
            name: Check("pass") if failure is None else Check("fail", failure)
            for name, failure in sorted(results.items())
        }
        up = all(failure is None for failure in results.values())
        return json_response(
            Health("pass" if up else "fail", service, __version__, checks), 200 if up else 503
        )

    async def metrics(request: Request) -> Response:
        """Request counts and latencies (and the service's own counters) in the
        Prometheus text format."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    tags = ("service",)
    return [
        Endpoint(
            "GET",
            "/version",
            version,
            summary="Service version",
            tags=tags,
            ok=Reply(200, "The service's name and version.", Version),
        ),
        Endpoint(
            "GET",
            "/health",
            health,
            summary="Health check",
            tags=tags,
            ok=Reply(200, "The service and every dependency it watches are up.", Health),
            errors={503: "A dependency is down: its entry in checks says fail and why."},
            error_models={503: Health},
        ),
        Endpoint(
            "GET",
            "/metrics",
            metrics,
            summary="Prometheus metrics",
            tags=tags,
            ok=Reply(200, "Metrics in the Prometheus text format.", str, "text/plain"),
        ),
    ]


def create_app(
    service: str,
    routes: Sequence[BaseRoute],
    *,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    error_status: Mapping[type[errors.MainfluxError], int] | None = None,
    with_service_routes: bool = True,
    max_body: int | None = None,
    title: str | None = None,
    description: str = "",
    documented: Sequence[Spec] = (),
) -> Starlette:
    """Build a service's Starlette app with the shared routes and error table.

    ``max_body`` bounds request bodies (default: ``MF_HTTP_MAX_BODY``, 1 MiB); reading
    it raises ``ConfigError`` for a bad value. The OpenAPI document (``title``,
    ``description``) covers every :class:`Endpoint` route plus ``documented``: specs of
    operations served in front of the app by a raw ASGI handler (the adapters'
    message paths). ``app.state.openapi()`` returns it. Raises ``ValueError`` when a
    route is no :class:`Endpoint` (it would be missing from the document)."""
    table = dict(ERROR_STATUS)
    table.update(error_status or {})
    all_routes = [*routes, *(service_routes(service) if with_service_routes else [])]
    missing = undocumented(all_routes)
    if missing:
        raise ValueError(f"routes missing from the OpenAPI document: {', '.join(missing)}")
    heading = title or f"Mainflux {service}"
    specs = [*documented, *specs_of(all_routes)]
    built: list[Document] = []

    def document() -> Document:
        if not built:
            built.append(build_document(heading, specs, description))
        return built[0]

    all_routes.extend(docs_routes(document, heading))
    app = Starlette(
        routes=all_routes,
        lifespan=lifespan,
        exception_handlers={
            errors.MainfluxError: _error_handler(table),
            HTTPException: _http_exception,
        },
    )
    app.state.openapi = document
    app.add_middleware(
        BodyLimitMiddleware, max_body=max_body if max_body is not None else max_body_from_env()
    )
    app.add_middleware(MetricsMiddleware, service=service)  # outermost: counts 413s too
    return app
