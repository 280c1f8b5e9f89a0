"""Hostile HTTP clients against a real server started by ``runner.serve_http``.

Each attack goes over raw sockets (huge or countless headers, a request sent byte by
byte, silent sockets by the dozen, oversized bodies), and after each one an ordinary
``GET /version`` still answers."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect

from mainflux.core import http, runner
from mainflux.core.limits import HttpLimits

MAX_BODY = 1024
LIMITS = HttpLimits(
    max_header_bytes=4096,
    max_headers=20,
    request_timeout=1.0,
    idle_timeout=1.0,
    max_connections=16,
)
Raw = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Probe:
    """A small management-style app: echoes JSON bodies, holds requests on demand."""

    def __init__(self) -> None:
        self.held = 0
        self.all_held = asyncio.Event()
        self.hold_count = 0
        self.release = asyncio.Event()

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            data = await http.read_json(request, check_content_type=False)
            return http.json_response({"size": len(orjson.dumps(data))})

        async def hold(request: Request) -> Response:
            self.held += 1
            if self.held == self.hold_count:
                self.all_held.set()
            await self.release.wait()
            return http.empty_response(200)

        async def ws_echo(ws: WebSocket) -> None:
            await ws.accept()
            while True:
                await ws.send_text(await ws.receive_text())

        routes = [
            Route("/echo", echo, methods=["POST"], include_in_schema=False),
            Route("/hold", hold, methods=["GET"], include_in_schema=False),
            WebSocketRoute("/ws", ws_echo),
        ]
        return http.create_app("probe", routes, max_body=MAX_BODY)


@contextlib.asynccontextmanager
async def serving(app: Starlette, limits: HttpLimits = LIMITS) -> AsyncIterator[int]:
    sock = runner.bind_socket("127.0.0.1", 0, "TEST_PORT")
    port = int(sock.getsockname()[1])
    task = asyncio.create_task(runner.serve_http(app, sock, name="probe", limits=limits))
    try:
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
async def port(probe: Probe) -> AsyncIterator[int]:
    async with serving(probe.app()) as bound:
        yield bound


async def version_answers(port: int) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{port}/version")
    assert response.status_code == 200
    assert response.json()["service"] == "probe"


async def open_raw(port: int) -> Raw:
    return await asyncio.open_connection("127.0.0.1", port)


async def until_closed(raw: Raw, timeout: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection (reset included)."""
    reader, writer = raw
    data = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), timeout):
            data += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return data


# request heads


async def test_a_huge_unfinished_header_is_cut(port: int) -> None:
    raw = await open_raw(port)
    raw[1].write(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000)
    with contextlib.suppress(ConnectionError):
        await raw[1].drain()
    answer = await until_closed(raw)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
    await version_answers(port)


async def test_a_complete_header_over_the_bound_is_431(port: int) -> None:
    raw = await open_raw(port)
    raw[1].write(b"GET /version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
    answer = await until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    await version_answers(port)


async def test_too_many_header_fields_are_431(port: int) -> None:
    raw = await open_raw(port)
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(LIMITS.max_headers + 1))
    raw[1].write(b"GET /version HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    answer = await until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    await version_answers(port)


async def test_a_huge_url_is_cut(port: int) -> None:
    raw = await open_raw(port)
    raw[1].write(b"GET /version?q=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        await raw[1].drain()
    answer = await until_closed(raw)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
    await version_answers(port)


async def test_headers_within_the_bounds_are_served(port: int) -> None:
    headers = {f"x-f{i}": "v" * 100 for i in range(LIMITS.max_headers - 5)}
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/version", headers=headers)
    assert response.status_code == 200


# slow and silent clients


async def test_a_request_sent_byte_by_byte_is_cut(port: int) -> None:
    reader, writer = await open_raw(port)
    request = b"GET /version HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"s" * 1000
    answer = b""
    for byte in request:
        writer.write(bytes([byte]))
        try:
            # Wait for the server's answer a little before the next byte.
            answer = await asyncio.wait_for(reader.read(200), 0.2)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        break
    else:
        pytest.fail("the server let a byte-by-byte request go on for ever")
    writer.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    await version_answers(port)


async def test_a_silent_connection_is_closed(port: int) -> None:
    answer = await until_closed(await open_raw(port))
    assert answer.startswith(b"HTTP/1.1 408"), answer
    await version_answers(port)


async def test_a_body_that_never_ends_is_cut(port: int) -> None:
    raw = await open_raw(port)
    raw[1].write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[1,")
    answer = await until_closed(raw)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer
    await version_answers(port)


async def test_an_idle_kept_alive_connection_is_closed(port: int) -> None:
    raw = await open_raw(port)
    raw[1].write(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert answer.count(b"HTTP/1.1") == 1


async def test_a_connection_answered_before_its_body_ended_is_still_timed(port: int) -> None:
    reader, writer = await open_raw(port)
    writer.write(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % (MAX_BODY + 1)
        + b"1" * (MAX_BODY + 1)
        + b"\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 413"), head
    writer.write(b"0\r\n\r\n")  # the body ends after the answer; then silence
    rest = await until_closed((reader, writer))
    assert b"HTTP/1.1" not in rest.split(b"}\n", 1)[-1]
    await version_answers(port)


# connection floods


async def test_a_flood_of_silent_sockets_cannot_shut_others_out() -> None:
    limits = HttpLimits(request_timeout=60.0, idle_timeout=60.0, max_connections=16)
    async with serving(Probe().app(), limits) as port:
        flood = [await open_raw(port) for _ in range(3 * limits.max_connections)]
        await version_answers(port)
        # Every socket beyond the cap was closed by the server without an answer (the
        # longest-waiting ones made room), not left to hold a file descriptor.
        readers = [asyncio.ensure_future(reader.read(1)) for reader, _ in flood]
        evicted = 0
        needed = len(flood) - limits.max_connections
        for done in asyncio.as_completed(readers, timeout=10):
            with contextlib.suppress(ConnectionResetError):
                assert await done == b""
            evicted += 1
            if evicted == needed:
                break
        for task in readers:
            task.cancel()
        for _, writer in flood:
            writer.close()
        assert evicted == needed
        await version_answers(port)


async def test_when_every_connection_is_busy_a_newcomer_is_refused() -> None:
    probe = Probe()
    probe.hold_count = 4
    limits = HttpLimits(max_connections=4)
    async with serving(probe.app(), limits) as port, httpx.AsyncClient(timeout=10) as client:
        base = f"http://127.0.0.1:{port}"
        held = [asyncio.ensure_future(client.get(f"{base}/hold")) for _ in range(4)]
        await asyncio.wait_for(probe.all_held.wait(), 10)
        answer = await until_closed(await open_raw(port))
        assert answer.startswith(b"HTTP/1.1 503"), answer
        probe.release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * 4
        assert (await client.get(f"{base}/version")).status_code == 200


async def test_a_websocket_outlives_the_request_deadline(port: int) -> None:
    async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send("before")
        assert await asyncio.wait_for(ws.recv(), 5) == "before"
        # A silent socket opened after the WebSocket is cut by the request deadline;
        # the WebSocket, older, is not.
        assert (await until_closed(await open_raw(port))).startswith(b"HTTP/1.1 408")
        await ws.send("after")
        assert await asyncio.wait_for(ws.recv(), 5) == "after"


# bodies


async def test_a_declared_body_over_the_bound_is_413_json(port: int) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://127.0.0.1:{port}/echo", content=b"[" + b"1," * MAX_BODY + b"1]"
        )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert str(MAX_BODY) in response.json()["error"]
    await version_answers(port)


async def test_a_streamed_body_over_the_bound_is_413_json(port: int) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"["
        for _ in range(MAX_BODY):
            yield b"1,"
        yield b"1]"

    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/echo", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]
    await version_answers(port)


async def test_a_body_at_the_bound_is_accepted(port: int) -> None:
    body = b"[" + b"1," * ((MAX_BODY - 3) // 2) + b"1]"
    body += b" " * (MAX_BODY - len(body))
    assert len(body) == MAX_BODY
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/echo", content=body)
    assert response.status_code == 200


# settings and file descriptors


def test_start_up_raises_the_open_files_limit_to_the_hard_one() -> None:
    script = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "from mainflux.core.runner import raise_open_files_limit\n"
        "raised = raise_open_files_limit()\n"
        "print(raised == hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == ["True", "True"], done.stderr


def test_the_connection_cap_leaves_file_descriptors_free() -> None:
    script = (
        "import resource\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (1000, hard))\n"
        "from mainflux.core.limits import HttpLimits\n"
        "from mainflux.core.runner import FD_HEADROOM, connection_cap\n"
        "print(connection_cap(HttpLimits(max_connections=5000)) == 1000 - FD_HEADROOM,\n"
        "      connection_cap(HttpLimits(max_connections=10)) == 10)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == ["True", "True"], done.stderr
