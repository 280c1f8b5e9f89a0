"""The HTTP adapter's ASGI app: ``POST /channels/<id>/messages[/<subtopic>]`` onto the bus.

The message path is a raw ASGI handler (no framework routing, no request objects):
parse the path, read the body up to ``max_body``, check the thing key (cached, see
:mod:`mainflux.adapters.access`), publish the envelope, answer. Like Go Mainflux it
answers with a status and no body: 202 once the message is on the bus; 400 for a path
or subtopic that breaks the rules; 403 for a missing or wrong key, an unknown channel or
a thing not connected to it; 405 for another method; 413 for a body over ``max_body``;
503 with ``Retry-After`` when the things service or the bus cannot be reached, or when
the bus refuses the message (on the in-process bus: storage is behind or failing, so a
202 there means the message is stored). A refused key (403) or an unreachable service
(503) is logged at INFO once per cause, then at DEBUG, never with a traceback
(:mod:`mainflux.adapters.refusals`). Every other path (``/version``, ``/health``,
``/metrics``, unknown routes) goes to the shared service app."""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux.adapters.asgi import client_address, header, request_path, respond
from mainflux.adapters.refusals import RefusalLog
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import (
    MalformedEntity,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from mainflux.core.http import create_app as create_service_app
from mainflux.core.metrics import REQUESTS
from mainflux.messaging.bus import Publisher
from mainflux.messaging.envelope import Message
from mainflux.messaging.subtopic import parse_topic

log = logging.getLogger("mainflux.http")

SERVICE: Final = "http"
PROTOCOL: Final = "http"
DEFAULT_MAX_BODY: Final = 1 << 20
_GONE: Final = 0  # the client went away before its body arrived: nothing to answer
_RETRY_AFTER: Final = ((b"retry-after", b"1"),)  # seconds, with every 503
_COUNTERS: Final = {
    s: REQUESTS.labels(SERVICE, "POST", str(s)) for s in (202, 400, 403, 405, 413, 503)
}


class MessageApp:
    """The raw ASGI app of the HTTP adapter (see the module doc)."""

    def __init__(
        self, access: ThingAccess, publisher: Publisher, max_body: int, fallback: ASGIApp
    ) -> None:
        self.access = access
        self.publisher = publisher
        self.max_body = max_body
        self.fallback = fallback
        self.refusals = RefusalLog(log, "HTTP message")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        path, escaped = request_path(scope)
        if not path.startswith(("/channels/", "channels/")):
            await self.fallback(scope, receive, send)
            return
        status = await self._handle(scope, receive, path, escaped)
        if status == _GONE:
            return
        _COUNTERS[status].inc()
        if status == 405:
            await respond(send, status, ((b"allow", b"POST"),))
        elif status == 503:
            await respond(send, status, _RETRY_AFTER)
        else:
            await respond(send, status)

    async def _handle(self, scope: Scope, receive: Receive, path: str, escaped: bool) -> int:
        if scope["method"] != "POST":
            return 405
        try:
            channel, subtopic = parse_topic(path, unescape=escaped)
        except MalformedEntity:
            return 400
        length = header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413 if length.isdigit() else 400
        body = await self._read_body(receive)
        if isinstance(body, int):
            return body
        key = header(scope, b"authorization")
        if not key:
            self.refusals.note("403 no key", client_address(scope))
            return 403
        try:
            thing = await self.access.can_access_by_key(channel, key.decode("latin-1"))
        except (Unauthorized, NotFound):
            self.refusals.note("403 wrong key or not connected", client_address(scope))
            return 403
        except MalformedEntity:
            return 400
        except ServiceUnavailable:
            self.refusals.note("503 things service unavailable", client_address(scope))
            return 503
        message = Message(channel, subtopic, thing, PROTOCOL, body, time.time_ns())
        try:
            await self.publisher.publish(message)
        except ServiceUnavailable:
            self.refusals.note("503 message bus unavailable", client_address(scope))
            return 503
        except PayloadTooLarge:
            return 413
        return 202

    async def _read_body(self, receive: Receive) -> bytes | int:
        """The whole body; 413 once it grows past ``max_body``; ``_GONE`` on disconnect."""
        message = await receive()
        if message["type"] == "http.disconnect":
            return _GONE
        body: bytes = message.get("body", b"")
        if not message.get("more_body", False):
            return body if len(body) <= self.max_body else 413
        parts = [body]
        size = len(body)
        while message.get("more_body", False):
            message = await receive()
            if message["type"] == "http.disconnect":
                return _GONE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return 413
            parts.append(chunk)
        return b"".join(parts)


def create_app(
    access: ThingAccess, publisher: Publisher, *, max_body: int = DEFAULT_MAX_BODY
) -> ASGIApp:
    """The HTTP adapter: ``access`` checks thing keys, ``publisher`` takes the messages.

    ``max_body`` bytes is the largest body accepted (413 above it). The app can be
    mounted under a prefix (``root_path``), as the gateway does with ``/http``."""
    return MessageApp(access, publisher, max_body, create_service_app(SERVICE, []))
