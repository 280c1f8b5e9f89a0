"""uvicorn's httptools protocol with the bounds it lacks (see :class:`HttpLimits`).

uvicorn bounds neither the size nor the number of request headers on its httptools
protocol, starts no timer on a fresh connection, lets a client send its request one
byte at a time for ever, and its ``limit_concurrency`` still accepts every socket (it
only answers 503 once a request arrives). This protocol adds:

- a header bound: the request line and headers over ``max_header_bytes``, or more than
  ``max_headers`` fields, are answered 431 and the connection is closed;
- a request deadline: from a connection's opening (or a request's first byte on a
  kept-alive one) the whole request must arrive within ``request_timeout``, else 408
  and close; idle kept-alive connections close after ``idle_timeout`` (uvicorn's timer);
- a connection cap: at ``max_connections`` open connections of a server, the one that
  has waited longest for its request is closed to make room, so silent sockets cannot
  shut others out; only when every connection is busy is the newcomer refused (503).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mainflux.core.limits import HttpLimits

_TOO_LARGE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 32\r\nconnection: close\r\n\r\nrequest header fields too large\n"
)
_TIMEOUT: Final = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n"
)
_BUSY: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 17\r\nconnection: close\r\n\r\ntoo many clients\n"
)


class _HeadersTooLarge(Exception):
    """Raised from a parser callback to stop parsing an oversized request head."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One HTTP/1.1 connection, bounded; build a subclass per server with
    :func:`guarded_protocol`."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    #: Connections of this server waiting for a request, the longest-waiting first.
    waiting: ClassVar[dict[GuardedHttpToolsProtocol, None]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.idle_timeout  # type: ignore[assignment]
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = False
        self._head_bytes = 0  # of the current head, as the parser reports it
        self._head_chunks = 0  # bytes received while the current head is incomplete
        self._head_fields = 0
        self._oversized = False
        self._refused = False

    # connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections and not self._evict_one():
            self._refused = True
            self.transport = transport
            transport.write(_BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self.waiting[self] = None
        self._deadline = self.loop.call_later(self.limits.request_timeout, self._expired)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_waiting()
        super().connection_lost(exc)

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for its request, if any."""
        victim = next(iter(self.waiting), None)
        if victim is None:
            return False
        victim._stop_waiting()
        victim.connections.discard(victim)
        victim.transport.abort()
        return True

    def _stop_waiting(self) -> None:
        self.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        self.waiting.pop(self, None)
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started or self.cycle.response_complete:
            self.transport.write(_TIMEOUT)
        self.transport.abort()

    # request parsing

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # The parser buffers an unfinished header itself: count what it holds.
            self._head_chunks += len(data)
            if self._head_chunks > self.limits.max_header_bytes:
                self._reject_oversized()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._head_chunks = self._head_fields = 0
        self.waiting.pop(self, None)  # a request is arriving: no longer idle, but
        if self._deadline is None:  # still bounded in time
            self._deadline = self.loop.call_later(self.limits.request_timeout, self._expired)

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        if self._head_fields > self.limits.max_headers:
            self._oversized = True
            raise _HeadersTooLarge()
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.limits.max_header_bytes:
            self._oversized = True
            raise _HeadersTooLarge()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stop_waiting()
        super().on_message_complete()
        if (
            self.cycle is not None
            and self.cycle.response_complete
            and not self.transport.is_closing()
            and not (self.parser.should_upgrade() and self._should_upgrade())
        ):
            # Answered before its body had arrived (e.g. 413): idle from now on, which
            # uvicorn does not time (its keep-alive timer was stopped by the body).
            self._idle()

    def send_400_response(self, msg: str) -> None:
        if self._oversized:
            self._reject_oversized()
        else:
            super().send_400_response(msg)

    def _reject_oversized(self) -> None:
        self._stop_waiting()
        self.transport.write(_TOO_LARGE)
        self.transport.abort()  # never wait on a client that does not read

    # after a request

    def handle_websocket_upgrade(self) -> None:
        self._stop_waiting()
        self._unset_keepalive_if_required()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.timeout_keep_alive_task is not None:
            # Idle until the next request; uvicorn's keep-alive timer bounds the wait.
            self.waiting[self] = None

    def _idle(self) -> None:
        self.waiting[self] = None
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for one server (its own cap and set of waiting connections)."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "waiting": {}},
    )
