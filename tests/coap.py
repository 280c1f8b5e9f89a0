"""CoAP clients for the tests: libcoap's ``coap-client`` and a raw UDP endpoint.

``coap-client`` (Debian package ``libcoap3-bin``, installed by ``make test``) is an
independent implementation; a missing binary is a failure saying what to run. The
:class:`RawEndpoint` sends hand-built datagrams (encoded with aiocoap's message class)
and reads the adapter's answers one by one, so a test can withhold an ACK, answer with
RST or send garbage."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import warnings
from collections.abc import Sequence

import pytest
from aiocoap import Context, Message, numbers

COAP_CLIENTS = ("coap-client", "coap-client-notls", "coap-client-openssl", "coap-client-gnutls")


def coap_client() -> str:
    """The path of libcoap's ``coap-client``, or a test failure saying how to get it."""
    for name in COAP_CLIENTS:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("libcoap's coap-client is not installed: run `make test` (scripts/services.sh)")


async def run_coap_client(*args: str, timeout: float = 30.0) -> tuple[str, str]:
    """Run ``coap-client`` with ``args`` to the end; return its stdout and stderr.

    It runs as an asyncio subprocess so that an adapter served by the test's own event
    loop keeps answering."""
    proc = await asyncio.create_subprocess_exec(
        coap_client(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return out.decode(errors="replace"), err.decode(errors="replace")


class RawEndpoint:
    """A UDP socket speaking hand-built CoAP to the adapter on ``port``."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.connect(("127.0.0.1", port))
        self._mid = int.from_bytes(os.urandom(2), "big")

    def close(self) -> None:
        self.sock.close()

    def next_mid(self) -> int:
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def send_raw(self, datagram: bytes) -> None:
        self.sock.send(datagram)

    def send(
        self,
        code: numbers.Code,
        path: Sequence[str],
        *,
        mtype: numbers.Type = numbers.CON,
        token: bytes = b"",
        query: Sequence[str] = (),
        payload: bytes = b"",
        observe: int | None = None,
    ) -> Message:
        """Send one request; return it (its ``mid`` and ``token`` match the answers)."""
        request = Message(code=code, payload=payload)
        request.token = token or os.urandom(4)
        request.opt.uri_path = tuple(path)
        request.opt.uri_query = tuple(query)
        if observe is not None:
            request.opt.observe = observe
        request.mtype = mtype
        request.mid = self.next_mid()
        self.send_raw(request.encode())
        return request

    def reply(self, to: Message, mtype: numbers.Type) -> None:
        """Send an empty ACK or RST for the message ``to``."""
        empty = Message(code=numbers.EMPTY)
        empty.mtype = mtype
        empty.mid = to.mid
        self.send_raw(empty.encode())

    async def receive(self, timeout: float = 10.0) -> Message:
        """The next datagram from the adapter, decoded."""
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)
        return Message.decode(data)

    async def answer_to(self, request: Message, timeout: float = 10.0) -> Message:
        """The next response carrying ``request``'s token (other datagrams are skipped)."""
        while True:
            message = await self.receive(timeout)
            if message.token == request.token and message.code != numbers.EMPTY:
                return message


class Observation:
    """An aiocoap observation whose every notification is kept (aiocoap's own iterator
    keeps only the latest one)."""

    def __init__(self, context: Context, uri: str) -> None:
        self.request = context.request(Message(code=numbers.GET, uri=uri, observe=0))
        self._received: asyncio.Queue[Message | Exception] = asyncio.Queue()
        with warnings.catch_warnings():  # the callbacks are deprecated, not going away
            warnings.simplefilter("ignore", DeprecationWarning)
            self.request.observation.register_callback(self._received.put_nowait)
            self.request.observation.register_errback(self._received.put_nowait)

    async def registered(self) -> Message:
        """The answer to the registration."""
        return await asyncio.wait_for(self.request.response, 20)

    async def next(self, count: int = 1, timeout: float = 20.0) -> list[Message]:
        """The next ``count`` notifications; an error ending the observation is raised."""
        received = []
        async with asyncio.timeout(timeout):
            while len(received) < count:
                item = await self._received.get()
                if isinstance(item, Exception):
                    raise item
                received.append(item)
        return received

    async def payloads(self, count: int = 1) -> list[bytes]:
        return [n.payload for n in await self.next(count)]

    def cancel(self) -> None:
        self.request.observation.cancel()
