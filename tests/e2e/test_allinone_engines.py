"""``mainflux run`` with every embedded default replaced by its real engine:
PostgreSQL (``MF_DB_URL``), Redis (``MF_REDIS_URL``) and NATS (``MF_NATS_URL``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from mainflux.messaging.envelope import Message
from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import SENML, _provision
from tests.servers import NatsServer, wait_until


@pytest.fixture
def platform_on_engines(
    tmp_path: Path, postgres_url: str, redis_url: str, nats: NatsServer
) -> Iterator[Platform]:
    running = Platform(
        tmp_path / "data",
        extra_env={"MF_DB_URL": postgres_url, "MF_REDIS_URL": redis_url, "MF_NATS_URL": nats.url},
    )
    running.start()
    yield running
    if running.proc is not None:
        running.stop()


def test_the_platform_runs_on_postgres_redis_and_nats(
    platform_on_engines: Platform, redis_url: str, nats: NatsServer
) -> None:
    import nats as nats_client

    async def publish_and_watch_nats(ids: dict[str, str]) -> Message:
        nc = await nats_client.connect(nats.url)
        try:
            sub = await nc.subscribe(f"channels.{ids['channel']}.>")
            async with httpx.AsyncClient(base_url=platform_on_engines.url) as http:
                reply = await http.post(
                    f"/http/channels/{ids['channel']}/messages/a/b",
                    content=SENML,
                    headers={"Authorization": ids["key"]},
                )
            assert reply.status_code == 202
            raw = await sub.next_msg(timeout=5)
            return Message.decode(raw.data)
        finally:
            await nc.close()

    with httpx.Client(base_url=platform_on_engines.url, timeout=10) as client:
        ids = _provision(client)
        envelope = asyncio.run(publish_and_watch_nats(ids))
        assert (envelope.channel, envelope.subtopic) == (ids["channel"], "a.b")
        assert (envelope.publisher, envelope.protocol, envelope.payload) == (
            ids["thing"],
            "http",
            SENML,
        )

        def page() -> dict[str, Any]:
            return client.get(  # type: ignore[no-any-return]
                f"/channels/{ids['channel']}/messages", headers={"Authorization": ids["key"]}
            ).json()

        wait_until(lambda: page()["total"] == 1, "the message is stored and readable")
        assert page()["messages"][0]["name"] == "dev:temp"

    events = redis.Redis.from_url(redis_url, decode_responses=True)
    ours = [
        fields
        for _, fields in events.xrange("mainflux.things")
        if ids["thing"] in (fields.get("id"), fields.get("thing_id"))
    ]
    assert [f["operation"] for f in ours] == ["thing.create", "thing.connect"]
    assert ours[1]["chan_id"] == ids["channel"]
    assert events.get(f"thing_key:{ids['key']}") == ids["thing"]
    events.close()
