"""The adapters' shared plumbing: the cached access with its tail, the bus, the binding."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from mainflux.adapters.access import THINGS_STREAM
from mainflux.adapters.runtime import AccessSettings, connect_bus, open_access
from mainflux.core.runner import StartupError, bind_socket
from mainflux.events.redis import RedisEventStream
from tests.fakes import FakeThings
from tests.integration.test_access_cache import until_refused
from tests.servers import free_port, until


async def test_open_access_tails_the_things_events_while_open(redis_url: str) -> None:
    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    writer = RedisEventStream(redis_url)
    settings = AccessSettings(es_url=redis_url, max_age=3600)
    try:
        async with open_access(settings, things) as access:

            async def tail_reads() -> bool:  # the tail starts at "now": append until it reads
                await writer.append(THINGS_STREAM, {"operation": "noop"})
                return access.events_seen > 0

            await until(tail_reads, "the access cache tails the things events")
            await access.can_access_by_key("chan-1", "key-1")
            things.links.clear()
            event = {"operation": "thing.disconnect", "chan_id": "chan-1", "thing_id": "thing-1"}
            await writer.append(THINGS_STREAM, event)
            await until_refused(access, "chan-1", "key-1")  # the event was read
            tail = next(t for t in asyncio.all_tasks() if t.get_name() == "access-cache")
        assert tail.done(), "the tail stops with the block"
    finally:
        await writer.close()


async def test_without_an_event_stream_answers_only_expire() -> None:
    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    async with open_access(AccessSettings(max_age=3600), things) as access:
        assert await access.can_access_by_key("chan-1", "key-1") == "thing-1"
        await access.can_access_by_key("chan-1", "key-1")
        assert things.calls == 1


async def test_an_unreachable_bus_stops_start_up_naming_mf_nats_url() -> None:
    with pytest.raises(StartupError, match=r"^MF_NATS_URL: "):
        await connect_bus(f"nats://127.0.0.1:{free_port()}", f"test-{uuid.uuid4().hex}")


def test_sockets_bound_with_reuse_port_share_it() -> None:
    first = bind_socket("127.0.0.1", 0, "TEST_PORT", reuse_port=True)
    port = first.getsockname()[1]
    try:
        second = bind_socket("127.0.0.1", port, "TEST_PORT", reuse_port=True)
        second.close()
        with pytest.raises(StartupError, match=f"^TEST_PORT: cannot listen on 127.0.0.1:{port}"):
            bind_socket("127.0.0.1", port, "TEST_PORT")
    finally:
        first.close()


def test_a_socket_bound_alone_is_not_shared() -> None:
    first = bind_socket("127.0.0.1", 0, "TEST_PORT")
    port = first.getsockname()[1]
    try:
        with pytest.raises(StartupError, match="TEST_PORT"):
            bind_socket("127.0.0.1", port, "TEST_PORT", reuse_port=True)
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
    finally:
        first.close()
