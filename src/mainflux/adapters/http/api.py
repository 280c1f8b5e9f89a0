"""The HTTP adapter's ASGI app: ``POST /channels/<id>/messages[/<subtopic>]`` onto the bus.

The message path is a raw ASGI handler (no framework routing, no request objects):
parse the path, read the body up to ``max_body``, check the thing key (cached, see
:mod:`mainflux.adapters.access`), publish the envelope, answer. A 202 (once the message
is on the bus) has no body; every refusal carries the JSON error body, prepared once: 400 for a path
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
from typing import Annotated, Any, Final

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux.adapters.asgi import client_address, header, request_path, respond
from mainflux.adapters.refusals import RefusalLog
from mainflux.core.auth import ThingAccess
from mainflux.core.endpoints import THING, Reply, Spec
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
_JSON: Final = (b"content-type", b"application/json")
_MESSAGES: Final = {
    400: "malformed channel id, subtopic or request",
    403: Unauthorized.message,
    405: "method not allowed: messages are sent with POST",
    503: "the things service or the message bus cannot be reached; retry",
}

Payload = Annotated[
    list[dict[str, Any]],
    msgspec.Meta(
        description="Any bytes: the payload is passed on untouched, whatever the "
        "Content-Type. Writers store SenML packs (JSON arrays of records) like this one."
    ),
]
_SENML_EXAMPLE: Final = [{"bn": "room1:", "n": "temperature", "u": "Cel", "v": 21.5}]


def _publish_spec(path: str, operation_id: str, summary: str) -> Spec:
    return Spec(
        method="POST",
        path=path,
        summary=summary,
        operation_id=operation_id,
        description="Publishes the body as one message on the channel, as the thing whose "
        "key is sent. A subtopic's `/` become `.` on the bus.",
        tags=("messages",),
        body=Payload,
        body_example=_SENML_EXAMPLE,
        body_media_type="application/senml+json",
        check_content_type=False,
        security=THING,
        ok=Reply(202, "The message is on the bus (stored, on the embedded bus)."),
        errors={
            400: "Malformed channel id or subtopic.",
            503: "The things service or the bus cannot be reached, or storage is behind; "
            "see Retry-After.",
        },
    )


#: The operations served by :class:`MessageApp` itself, for the OpenAPI document.
PUBLISH_SPECS: Final = (
    _publish_spec("/channels/{id}/messages", "publish", "Send a message"),
    _publish_spec(
        "/channels/{id}/messages/{subtopic}", "publish_subtopic", "Send a message to a subtopic"
    ),
)


def _error_body(message: str) -> bytes:
    return msgspec.json.encode({"error": message}) + b"\n"


class MessageApp:
    """The raw ASGI app of the HTTP adapter (see the module doc)."""

    def __init__(
        self, access: ThingAccess, publisher: Publisher, max_body: int, fallback: ASGIApp
    ) -> None:
        self.access = access
        self.publisher = publisher
        self.max_body = max_body
        self.fallback = fallback
        self.state: Any = getattr(fallback, "state", None)  # its OpenAPI document
        self.refusals = RefusalLog(log, "HTTP message")
        messages = {**_MESSAGES, 413: f"request body larger than {max_body} bytes"}
        self._bodies: dict[int, bytes] = {s: _error_body(m) for s, m in messages.items()}

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
        if status == 202:
            await respond(send, status)
        elif status == 405:
            await respond(send, status, (_JSON, (b"allow", b"POST")), self._bodies[status])
        elif status == 503:
            await respond(send, status, (_JSON, *_RETRY_AFTER), self._bodies[status])
        else:
            await respond(send, status, (_JSON,), self._bodies[status])

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
            await self.publisher.publish(message, confirm=True)
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
    fallback = create_service_app(
        SERVICE, [], title="Mainflux HTTP adapter", documented=PUBLISH_SPECS
    )
    return MessageApp(access, publisher, max_body, fallback)
