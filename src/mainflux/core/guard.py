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
        self._reading = False  # a request (or the first one) is due or arriving
        self._started = 0.0  # when it became due
        self._in_head = False
        self._chunk = 0  # size of the chunk being parsed
        self._head_chunks = 0  # bytes of earlier chunks holding the current head
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
        self._reading = True
        self._started = self.loop.time()
        self._deadline = self.loop.call_at(
            self._started + self.limits.request_timeout, self._check_deadline
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._forget()
        super().connection_lost(exc)

    def _forget(self) -> None:
        self.waiting.pop(self, None)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for its request, if any."""
        victim = next(iter(self.waiting), None)
        if victim is None:
            return False
        victim._forget()
        victim.connections.discard(victim)
        victim.transport.abort()
        return True

    def _check_deadline(self) -> None:
        """One timer per connection, re-armed when it fires rather than per request."""
        self._deadline = None
        if self.transport.is_closing():
            return
        due = self.loop.time() + self.limits.request_timeout
        if self._reading:
            due = self._started + self.limits.request_timeout
            if due <= self.loop.time():
                self._expire()
                return
        self._deadline = self.loop.call_at(due, self._check_deadline)

    def _expire(self) -> None:
        self.waiting.pop(self, None)
        cycle = self.cycle
        if cycle is None or not cycle.response_started or cycle.response_complete:
            self.transport.write(_TIMEOUT)
        self.transport.abort()

    # request parsing

    def data_received(self, data: bytes) -> None:
        self._chunk = len(data)
        super().data_received(data)
        if self._in_head and not self.transport.is_closing():
            # The parser buffers an unfinished header itself: count what it holds.
            self._head_chunks += self._chunk
            if self._head_chunks > self.limits.max_header_bytes:
                self._reject_oversized()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_chunks = 0
        if not self._reading:
            self._reading = True
            self._started = self.loop.time()
        self.waiting.pop(self, None)

    def on_headers_complete(self) -> None:
        self._in_head = False
        limits = self.limits
        if len(self.headers) > limits.max_headers or (
            # The chunks that held the head bound its size; add up only when they are big.
            self._head_chunks + self._chunk > limits.max_header_bytes
            and len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
            > limits.max_header_bytes
        ):
            self._oversized = True
            raise _HeadersTooLarge()  # the parser stops; see send_400_response
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading = False
        super().on_message_complete()
        cycle = self.cycle
        if (
            cycle is not None
            and cycle.response_complete
            and not self.transport.is_closing()
            and not (self.parser.should_upgrade() and self._should_upgrade())
        ):
            # Answered before its body had arrived (e.g. 413): idle from now on, which
            # uvicorn does not time (its keep-alive timer was stopped by the body).
            self.waiting[self] = None
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def send_400_response(self, msg: str) -> None:
        if self._oversized:
            self._reject_oversized()
        else:
            super().send_400_response(msg)

    def _reject_oversized(self) -> None:
        self._forget()
        self.transport.write(_TOO_LARGE)
        self.transport.abort()  # never wait on a client that does not read

    # after a request

    def handle_websocket_upgrade(self) -> None:
        self._forget()
        self._unset_keepalive_if_required()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None and not self.transport.is_closing():
            # Idle until the next request; uvicorn's keep-alive timer bounds the wait.
            self.waiting[self] = None


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpToolsProtocol]:
    """A protocol class for one server (its own cap and set of waiting connections)."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"limits": limits, "waiting": {}},
    )
