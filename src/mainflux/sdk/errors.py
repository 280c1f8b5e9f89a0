"""The SDK's failures: one exception class per kind, each carrying the HTTP status and
the server's message.

Every error raised by :class:`~mainflux.sdk.Client` and :class:`~mainflux.sdk.AsyncClient`
is a :class:`MainfluxError`. Catch a subclass to handle one kind (``NotFound``), or the
base class for all."""

from __future__ import annotations

from typing import Final

import httpx


class MainfluxError(Exception):
    """A request the platform refused or could not answer.

    ``status`` is the HTTP status (``None`` when no answer came), ``message`` the
    server's explanation (its ``{"error": ...}`` body, else the status text) and
    ``url`` the request's URL."""

    kind: str = "request failed"

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{self.kind}: {self.message}{where}"


class BadRequest(MainfluxError):
    """400: the request was malformed (a field, a query parameter, the body)."""

    kind = "bad request"


class Unauthorized(MainfluxError):
    """401/403: a missing, wrong or expired token or key, or no right to the entity."""

    kind = "not authorized"


class NotFound(MainfluxError):
    """404: no such entity (or route)."""

    kind = "not found"


class Conflict(MainfluxError):
    """409/422: the entity already exists (an email, a thing key, a connection)."""

    kind = "conflict"


class PayloadTooLarge(MainfluxError):
    """413: the request body is over the platform's limit."""

    kind = "too large"


class UnsupportedMediaType(MainfluxError):
    """415: the request body is not of a content type the endpoint accepts."""

    kind = "unsupported content type"


class TooManyRequests(MainfluxError):
    """429: a per-client bound was reached; try again later."""

    kind = "too many requests"


class ServiceUnavailable(MainfluxError):
    """503: a service behind the one called cannot be reached; try again later."""

    kind = "service unavailable"


class ServerError(MainfluxError):
    """Any other unexpected status (a 5xx, or a status the endpoint never answers)."""

    kind = "server error"


class Unreachable(MainfluxError):
    """No answer at all: connection refused, DNS failure, TLS failure or timeout."""

    kind = "cannot reach the platform"

    def __str__(self) -> str:
        return f"{self.kind} at {self.url}: {self.message}"


_BY_STATUS: Final[dict[int, type[MainfluxError]]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Conflict,
    429: TooManyRequests,
    503: ServiceUnavailable,
}

#: The longest server message kept (a misrouted request may answer a whole HTML page).
MAX_MESSAGE: Final = 300


def from_response(response: httpx.Response) -> MainfluxError:
    """The exception for a response whose status the endpoint does not answer on success."""
    cls = _BY_STATUS.get(response.status_code, ServerError)
    return cls(_message(response), status=response.status_code, url=str(response.request.url))


def _message(response: httpx.Response) -> str:
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    elif body is None and response.content:
        text = response.content.decode("utf-8", "replace").strip()
        if text and "\n" not in text:
            message = text
    message = message or response.reason_phrase or f"HTTP {response.status_code}"
    return message[:MAX_MESSAGE]


def from_transport(exc: httpx.TransportError, url: str) -> Unreachable:
    """The exception for a request that got no answer."""
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        reason = f"timed out ({reason})" if str(exc) else "timed out"
    elif isinstance(exc, httpx.ConnectError) and "refused" in reason.lower():
        reason = "connection refused"
    return Unreachable(reason.splitlines()[0][:MAX_MESSAGE], url=url)
