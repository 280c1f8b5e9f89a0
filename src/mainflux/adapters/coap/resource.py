"""The CoAP adapter's one resource: ``channels/<id>/messages[/<subtopic>]``.

Every request reaches :meth:`MessagesResource.render_to_pipe` (the site's root), which
answers in this order:

- 4.04 for any other path; 4.00 for a messages path whose subtopic breaks the rules
  (:mod:`mainflux.messaging.subtopic`, not URL-unescaped, as in Mainflux);
- 4.01 without an ``authorization=<thing key>`` Uri-Query option (or with an empty one);
  4.03 for a wrong key or a thing not connected to the channel; 5.03 when the things
  service cannot be reached;
- POST or PUT publishes the payload (protocol ``coap``) and answers 2.04 Changed: 4.00
  for an empty payload or a wildcard subtopic, 4.13 (with Size1) above ``max_payload``,
  5.03 when the bus is down. Payloads above one datagram arrive block-wise (Block1,
  RFC 7959), each block answered 2.31 Continue; see :mod:`mainflux.adapters.coap.blocks`;
- GET with ``Observe=0`` observes: a 2.05 with ``Observe`` set, then one 2.05
  notification per message of the channel (and subtopic; lone ``*``/``>`` elements are
  wildcards) with the raw payload and increasing Observe numbers. Notifications are of
  the registration's type (CON or NON); an observer that registered NON gets a
  confirmable one at least every ``ping_period`` seconds, and an observer that heard
  nothing for a period is pinged (:func:`pinger`). A confirmable notification or ping
  that is not acknowledged after ``max_retransmit`` retransmissions (first after
  ``ack_timeout`` seconds), or a notification answered with RST (:meth:`reset`), ends
  the observation, as does a GET with ``Observe=1`` on the same token. A revoked right
  ends it with a 4.03
  notification. The adapter holds at most ``max_observers`` observations (5.03 above),
  ``max_observers_per_thing`` per thing (4.29 above);
- GET with ``Observe=1`` (deregistration) answers 2.05; another GET 4.00; any other
  method 4.05.

CON requests get piggy-backed answers (aiocoap's message layer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from aiocoap import GET, POST, PUT, Message, numbers
from aiocoap.interfaces import Resource
from aiocoap.pipe import Pipe
from prometheus_client import Counter

from mainflux.adapters.coap.blocks import Assemblies, BlockError
from mainflux.adapters.coap.observers import (
    DEFAULT_MAX_OBSERVERS,
    DEFAULT_MAX_OBSERVERS_PER_THING,
    Full,
    Observer,
    Observers,
)
from mainflux.adapters.refusals import RefusalLog
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import (
    MalformedEntity,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from mainflux.messaging.bus import Bus
from mainflux.messaging.envelope import Message as Envelope
from mainflux.messaging.envelope import subject_of
from mainflux.messaging.subtopic import has_wildcard, parse_topic

log = logging.getLogger("mainflux.coap")

PROTOCOL: Final = "coap"
DEFAULT_MAX_PAYLOAD: Final = 1 << 20
DEFAULT_PING_PERIOD: Final = 120.0
DEFAULT_ACK_TIMEOUT: Final = 2.0  # RFC 7252's ACK_TIMEOUT
DEFAULT_MAX_RETRANSMIT: Final = 4  # RFC 7252's MAX_RETRANSMIT
_MESSAGES_PATH: Final = re.compile(r"^channels/[^/]*/messages(/.*)?$")
_KEY_PREFIX: Final = "authorization="
_OBSERVE_MAX: Final = 0xFFFFFF  # the Observe option holds 3 bytes

REQUESTS: Final = Counter(
    "mainflux_coap_requests_total",
    "CoAP requests answered, by method and code.",
    ["method", "code"],
)
NOTIFICATIONS: Final = Counter("mainflux_coap_notifications_total", "CoAP notifications sent.")


@dataclass(frozen=True, slots=True)
class Tuning:
    """The adapter's bounds and observer checks (see the module doc)."""

    max_payload: int = DEFAULT_MAX_PAYLOAD
    max_observers: int = DEFAULT_MAX_OBSERVERS
    max_observers_per_thing: int = DEFAULT_MAX_OBSERVERS_PER_THING
    ping_period: float = DEFAULT_PING_PERIOD
    ack_timeout: float = DEFAULT_ACK_TIMEOUT
    max_retransmit: int = DEFAULT_MAX_RETRANSMIT


#: Sends an empty confirmable message (a CoAP ping) to a client endpoint; a client that
#: never answers it has all its observations ended by aiocoap. See :func:`pinger`.
Ping = Callable[[object], None]


class _Answer(Exception):
    """End the request with this CoAP code (and a short diagnostic payload)."""

    def __init__(self, code: numbers.Code, cause: str, *, size1: int | None = None) -> None:
        super().__init__(cause)
        self.code = code
        self.cause = cause
        self.size1 = size1


def _confirmable(tuning: Tuning) -> numbers.TransportTuning:
    """Transmission parameters of the adapter's confirmable notifications."""
    reliable = numbers.Reliable()
    reliable.ACK_TIMEOUT = tuning.ack_timeout
    reliable.MAX_RETRANSMIT = tuning.max_retransmit
    return reliable


class MessagesResource(Resource):  # type: ignore[misc]
    """The adapter's root resource (see the module doc)."""

    def __init__(self, access: ThingAccess, bus: Bus, tuning: Tuning | None = None) -> None:
        self.access = access
        self.bus = bus
        self.tuning = tuning or Tuning()
        self.observers = Observers(
            access,
            bus,
            max_observers=self.tuning.max_observers,
            max_per_thing=self.tuning.max_observers_per_thing,
        )
        self.assemblies = Assemblies(self.tuning.max_payload)
        self.refusals = RefusalLog(log, "CoAP request")
        self._reliable = _confirmable(self.tuning)
        #: Checks an idle observer's endpoint (set by the server; ``None``: no idle checks).
        self.ping: Ping | None = None
        #: Ends the observation registered by a request, as aiocoap ends one whose
        #: confirmable notification got RST (set by the server; see :meth:`reset`).
        self.deregister: Callable[[Message], None] | None = None
        # The last NON notification of each observation: (client address, message id)
        # -> the registration, so that an RST to it ends the observation.
        self._non_sent: dict[tuple[object, int], Message] = {}

    def reset(self, remote: object, mid: int) -> None:
        """An RST from ``remote`` for message ``mid`` arrived: when it answers the latest
        NON notification of an observation, that observation ends (aiocoap itself only
        matches RSTs to confirmable messages)."""
        request = self._non_sent.pop((_address_key(remote), mid), None)
        if request is not None and self.deregister is not None:
            self.deregister(request)

    # aiocoap's Resource interface: everything goes through render_to_pipe.
    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return False

    async def render(self, request: Message) -> Message:
        raise NotImplementedError("requests are rendered by render_to_pipe")

    async def render_to_pipe(self, pipe: Pipe) -> None:
        """Answer one request, or keep notifying an observer until it goes away."""
        request: Message = pipe.request
        try:
            channel, subtopic, thing, key = await self._authorize(request)
            if request.code in (POST, PUT):
                response = await self._publish(request, channel, subtopic, thing)
            elif request.code == GET and request.opt.observe == 0:
                await self._observe(pipe, channel, subtopic, thing, key)
                return
            elif request.code == GET and request.opt.observe == 1:
                response = Message(code=numbers.CONTENT)
            elif request.code == GET:
                raise _Answer(numbers.BAD_REQUEST, "GET without Observe")
            else:
                raise _Answer(numbers.METHOD_NOT_ALLOWED, "method not allowed")
        except _Answer as answer:
            response = self._refusal(request, answer)
        REQUESTS.labels(str(request.code), str(response.code)).inc()
        pipe.add_response(response, is_last=True)

    def _refusal(self, request: Message, answer: _Answer) -> Message:
        if answer.code in (numbers.UNAUTHORIZED, numbers.FORBIDDEN, numbers.SERVICE_UNAVAILABLE):
            self.refusals.note(f"{answer.code.dotted} {answer.cause}", _address(request))
        response = Message(code=answer.code, payload=answer.cause.encode())
        if answer.size1 is not None:
            response.opt.size1 = answer.size1
        return response

    async def _authorize(self, request: Message) -> tuple[str, str, str, str]:
        path = "/".join(request.opt.uri_path)
        try:
            channel, subtopic = parse_topic(path, unescape=False)
        except MalformedEntity:
            if _MESSAGES_PATH.match(path):
                raise _Answer(numbers.BAD_REQUEST, "bad channel or subtopic") from None
            raise _Answer(numbers.NOT_FOUND, "not found") from None
        key = next(
            (q[len(_KEY_PREFIX) :] for q in request.opt.uri_query if q.startswith(_KEY_PREFIX)),
            "",
        )
        if not key:
            raise _Answer(numbers.UNAUTHORIZED, "missing key")
        return channel, subtopic, await self._check(channel, key), key

    async def _check(self, channel: str, key: str) -> str:
        try:
            return await self.access.can_access_by_key(channel, key)
        except (Unauthorized, NotFound):
            raise _Answer(numbers.FORBIDDEN, "wrong key or not connected") from None
        except MalformedEntity:
            raise _Answer(numbers.BAD_REQUEST, "malformed channel or key") from None
        except ServiceUnavailable:
            raise _Answer(numbers.SERVICE_UNAVAILABLE, "things service unavailable") from None

    # -- publishing ---------------------------------------------------------------------

    async def _publish(self, request: Message, channel: str, subtopic: str, thing: str) -> Message:
        if has_wildcard(subtopic):
            raise _Answer(numbers.BAD_REQUEST, "cannot publish to a wildcard subtopic")
        limit = self.tuning.max_payload
        if (request.opt.size1 or 0) > limit or len(request.payload) > limit:
            raise _Answer(numbers.REQUEST_ENTITY_TOO_LARGE, "payload too large", size1=limit)
        block1 = request.opt.block1
        payload: bytes | None = request.payload
        if block1 is not None:
            try:
                payload = self.assemblies.feed(
                    _transfer_key(request),
                    block1.block_number,
                    block1.more,
                    block1.size,
                    request.payload,
                )
            except BlockError as exc:
                size1 = limit if exc.code == numbers.REQUEST_ENTITY_TOO_LARGE else None
                raise _Answer(exc.code, str(exc), size1=size1) from None
            if payload is None:
                return Message(code=numbers.CONTINUE, block1=block1)
        if not payload:
            raise _Answer(numbers.BAD_REQUEST, "empty payload")
        message = Envelope(channel, subtopic, thing, PROTOCOL, payload, time.time_ns())
        try:
            await self.bus.publish(message, confirm=request.mtype == numbers.CON)
        except ServiceUnavailable:
            raise _Answer(numbers.SERVICE_UNAVAILABLE, "message bus unavailable") from None
        except PayloadTooLarge:
            raise _Answer(
                numbers.REQUEST_ENTITY_TOO_LARGE, "payload too large for the bus"
            ) from None
        response = Message(code=numbers.CHANGED)
        if block1 is not None:
            response.opt.block1 = block1
        return response

    # -- observing ----------------------------------------------------------------------

    async def _observe(self, pipe: Pipe, channel: str, subtopic: str, thing: str, key: str) -> None:
        request: Message = pipe.request
        try:
            self.observers.reserve()
        except Full:
            response = self._refusal(
                request, _Answer(numbers.SERVICE_UNAVAILABLE, "too many observers")
            )
            pipe.add_response(response, is_last=True)
            return
        try:
            observer = Observer(thing, channel, key, subject=subject_of(channel, subtopic))
            heard = self.observers.live.revocations
            try:
                await self.observers.add(observer)
                if self.observers.live.revocations != heard:
                    await self._check(channel, key)  # the first answer may predate it
            except Full:
                answer = _Answer(numbers.TOO_MANY_REQUESTS, "too many observers for the thing")
                pipe.add_response(self._refusal(request, answer), is_last=True)
                return
            except ServiceUnavailable:
                answer = _Answer(numbers.SERVICE_UNAVAILABLE, "message bus unavailable")
                pipe.add_response(self._refusal(request, answer), is_last=True)
                await self.observers.remove(observer)
                return
            except _Answer as answer:
                pipe.add_response(self._refusal(request, answer), is_last=True)
                await self.observers.remove(observer)
                return
            try:
                await self._notify(pipe, observer)
            finally:
                await self.observers.remove(observer)
        finally:
            self.observers.release()

    async def _notify(self, pipe: Pipe, observer: Observer) -> None:
        """Send the registration answer, then every payload, until revoked or cancelled
        (aiocoap cancels this task when the observer goes away)."""
        request: Message = pipe.request
        numbers_ = _observe_numbers()
        REQUESTS.labels("GET", str(numbers.CONTENT)).inc()
        gone: list[bool] = []
        pipe.on_interest_end(lambda: gone.append(True))
        if not _send(pipe, Message(code=numbers.CONTENT, observe=next(numbers_)), gone):
            return
        try:
            await self._notify_each(pipe, observer, numbers_, gone)
        finally:
            self._forget_non(request)

    async def _notify_each(
        self, pipe: Pipe, observer: Observer, numbers_: Iterator[int], gone: list[bool]
    ) -> None:
        request: Message = pipe.request
        confirmable = request.mtype == numbers.CON
        last_check = time.monotonic()
        revoked = observer.revoked
        period = self.tuning.ping_period
        while True:
            getter = asyncio.ensure_future(observer.queue.get())
            idle = max(0.0, last_check + period - time.monotonic())
            try:
                await asyncio.wait(
                    (getter, revoked), timeout=idle, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                received = getter.done()
                if not received:
                    getter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await getter
            if not received and not revoked.done():
                # A whole period without a confirmable exchange: check the endpoint.
                last_check = time.monotonic()
                if self.ping is not None:
                    self.ping(request.remote)
                continue
            if revoked.done():
                log.debug("observation of thing %s on %s revoked", observer.thing, observer.channel)
                ended = Message(code=numbers.FORBIDDEN, payload=b"access revoked")
                _send(pipe, ended, gone, last=True)
                return
            notification = Message(
                code=numbers.CONTENT, payload=getter.result(), observe=next(numbers_)
            )
            now = time.monotonic()
            non = not confirmable and now - last_check < period
            if non:
                notification.transport_tuning = numbers.Unreliable()
            else:
                notification.transport_tuning = self._reliable
                last_check = now
            NOTIFICATIONS.inc()
            if not _send(pipe, notification, gone):
                return
            if non and notification.mid is not None:
                self._forget_non(request)
                self._non_sent[(_address_key(notification.remote), notification.mid)] = request

    def _forget_non(self, request: Message) -> None:
        for key in [k for k, r in self._non_sent.items() if r is request]:
            del self._non_sent[key]


def _send(pipe: Pipe, message: Message, gone: list[bool], *, last: bool = False) -> bool:
    """Hand one answer to aiocoap; ``False`` when the observer is gone (``gone`` is
    filled by the pipe's end of interest).

    A datagram that cannot be sent (the client's port is closed) ends the pipe while
    aiocoap is still dispatching the answer, and aiocoap 0.4 then raises ``TypeError``
    from its own bookkeeping: that case means "gone", any other failure is raised."""
    if gone:
        return False
    try:
        pipe.add_response(message, is_last=last)
    except TypeError:
        if not gone:
            raise
    return not gone


def pinger(context: object, tuning: Tuning) -> Ping | None:
    """A :data:`Ping` over ``context``'s CoAP-over-UDP message layer, or ``None`` when
    this aiocoap has none where 0.4 keeps it.

    The ping is a CON with code 0.00, as Go Mainflux sends: a live endpoint answers it
    with RST; one that never answers (``tuning``'s ACK timeout and retransmissions) has
    every observation it holds ended by aiocoap, which cancels their tasks."""
    managers = [
        ri.token_interface
        for ri in getattr(context, "request_interfaces", ())
        if hasattr(getattr(ri, "token_interface", None), "send_message")
        and hasattr(ri.token_interface, "_active_exchanges")
    ]
    if not managers:
        return None
    manager = managers[0]
    reliable = _confirmable(tuning)

    def ping(remote: object) -> None:
        message = Message(code=numbers.EMPTY, transport_tuning=reliable)
        message.remote = remote.as_response_address()  # type: ignore[attr-defined]
        try:
            manager.send_message(message, lambda: None)  # RST is the healthy answer
        except Exception as exc:  # the endpoint is unreachable: aiocoap ends it
            log.debug("pinging %s failed: %s", remote, exc)

    return ping


def _address_key(remote: object) -> object:
    """What compares equal for one client endpoint, whichever aiocoap object names it."""
    return getattr(remote, "sockaddr", remote)


def _observe_numbers() -> Iterator[int]:
    """Observe option values of one observation: 1, 2, ... wrapping within 3 bytes."""
    n = 0
    while True:
        n = n + 1 if n < _OBSERVE_MAX else 0
        yield n


def _transfer_key(request: Message) -> tuple[object, ...]:
    """What identifies one block-wise transfer: the client endpoint, method and URI."""
    return (
        request.remote.blockwise_key,
        request.code,
        tuple(request.opt.uri_path),
        tuple(request.opt.uri_query),
    )


def _address(request: Message) -> str:
    try:
        return str(request.remote.hostinfo)
    except Exception:  # a remote without host information
        return "unknown"


__all__ = ["MessagesResource", "Tuning"]
