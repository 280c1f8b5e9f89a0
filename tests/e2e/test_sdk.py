"""The Python SDK (``mainflux.sdk``) against a real all-in-one platform: every API,
both clients, page walkers, the WebSocket watch, and every failure kind."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mainflux import __version__
from mainflux.sdk import (
    AsyncClient,
    BadRequest,
    Client,
    Config,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServerError,
    Thing,
    Unauthorized,
    Unreachable,
)
from tests.e2e.conftest import Platform
from tests.servers import free_port, serving, wait_until

SENML = '[{"bn":"dev:","n":"temp","u":"C","v":21.5}]'


@pytest.fixture
def mf(shared_platform: Platform) -> Iterator[Client]:
    with Client(shared_platform.url) as client:
        yield client


def _user(mf: Client) -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    mf.create_user(email, "12345678", {"team": "sdk"})
    return email, mf.create_token(email, "12345678")


def _device(mf: Client, token: str) -> tuple[Thing, str]:
    """A thing (with its key) connected to a new channel."""
    thing_id = mf.create_thing(token, name="sensor", metadata={"room": "lab"})
    channel_id = mf.create_channel(token, name="room")
    mf.connect(token, [channel_id], [thing_id])
    return mf.thing(token, thing_id), channel_id


def test_users_register_log_in_view_update_and_change_password(mf: Client) -> None:
    email, token = _user(mf)
    assert mf.user(token).email == email
    assert mf.user(token).metadata == {"team": "sdk"}
    mf.update_user(token, {"team": "cli"})
    assert mf.user(token).metadata == {"team": "cli"}
    with pytest.raises(Conflict) as taken:
        mf.create_user(email, "12345678")
    assert taken.value.status == 409
    with pytest.raises(Unauthorized):
        mf.update_password(token, "wrong-old", "87654321")
    mf.update_password(token, "12345678", "87654321")
    with pytest.raises(Unauthorized) as refused:
        mf.create_token(email, "12345678")
    assert refused.value.status == 403
    assert mf.create_token(email, "87654321")
    with pytest.raises(BadRequest) as short:
        mf.create_user(f"x{email}", "123")
    assert "8 characters" in short.value.message


def test_a_password_reset_request_is_accepted_and_a_bad_reset_token_refused(mf: Client) -> None:
    email, _ = _user(mf)
    mf.request_password_reset(email)
    with pytest.raises(Unauthorized):
        mf.reset_password("not-a-reset-token", "12345678")


def test_api_keys_work_until_revoked(mf: Client) -> None:
    email, token = _user(mf)
    key = mf.create_key(token, duration=3600)
    assert key.id and key.value and key.expires_at
    assert mf.user(key.value).email == email
    info = mf.key(token, key.id)
    assert (info.id, info.type, info.issuer) == (key.id, 2, email)
    mf.revoke_key(token, key.id)
    with pytest.raises(Unauthorized):
        mf.user(key.value)


def test_things_and_channels_create_view_update_list_and_delete(mf: Client) -> None:
    _, token = _user(mf)
    thing_id = mf.create_thing(token, name="Lamp", key=f"k-{uuid.uuid4()}", metadata={"a": 1})
    thing = mf.thing(token, thing_id)
    assert (thing.name, thing.metadata) == ("Lamp", {"a": 1})
    mf.update_thing(token, thing_id, name="Lamp 2", metadata={"a": 2})
    assert mf.thing(token, thing_id).name == "Lamp 2"
    mf.update_thing_key(token, thing_id, "new-key-" + thing_id)
    assert mf.thing(token, thing_id).key == "new-key-" + thing_id
    bulk = mf.create_things(token, [{"name": "b1"}, Thing(id="", name="b2")])
    assert [t.name for t in bulk] == ["b1", "b2"] and all(t.key for t in bulk)
    assert mf.things(token, name="lamp").total == 1
    assert mf.things(token, metadata={"a": 2}).items[0].id == thing_id
    with pytest.raises(Conflict) as duplicate:
        mf.create_thing(token, key="new-key-" + thing_id)
    assert duplicate.value.status == 422

    channel_id = mf.create_channel(token, name="Hall", metadata={"floor": 1})
    mf.update_channel(token, channel_id, name="Hall 2")
    assert mf.channel(token, channel_id).name == "Hall 2"
    made = mf.create_channels(token, [{"name": "c1"}, {"name": "c2"}])
    assert mf.channels(token).total == 3
    mf.connect(token, [channel_id, made[0].id], [thing_id])
    mf.connect_thing(token, made[1].id, bulk[0].id)
    with pytest.raises(Conflict):
        mf.connect_thing(token, made[1].id, bulk[0].id)
    assert {c.id for c in mf.iter_channels_by_thing(token, thing_id)} == {channel_id, made[0].id}
    assert [t.id for t in mf.iter_things_by_channel(token, made[1].id)] == [bulk[0].id]
    mf.disconnect(token, channel_id, thing_id)
    with pytest.raises(NotFound):
        mf.disconnect(token, channel_id, thing_id)
    assert mf.channels_by_thing(token, thing_id).total == 1

    mf.delete_thing(token, thing_id)
    mf.delete_channel(token, channel_id)
    with pytest.raises(NotFound) as gone:
        mf.thing(token, thing_id)
    assert (gone.value.status, gone.value.message) == (404, "non-existent entity")
    with pytest.raises(NotFound):
        mf.channel(token, channel_id)


def test_the_walkers_follow_every_page(mf: Client) -> None:
    _, token = _user(mf)
    for start in range(0, 230, 100):
        mf.create_things(token, [{"name": f"t{i}"} for i in range(start, min(start + 100, 230))])
    assert mf.things(token, limit=100).total == 230
    names = [t.name for t in mf.iter_things(token)]
    assert len(names) == 230 and len(set(names)) == 230
    assert sum(1 for _ in mf.iter_things(token, name="t22")) == 11  # t22, t220..t229


def test_a_limit_over_the_maximum_is_a_bad_request(mf: Client) -> None:
    _, token = _user(mf)
    with pytest.raises(BadRequest) as page:
        mf.things(token, limit=101)
    assert page.value.status == 400


def test_messages_sent_over_http_are_read_back_with_every_filter(mf: Client) -> None:
    _, token = _user(mf)
    thing, channel_id = _device(mf, token)
    assert thing.key
    mf.send_message(thing.key, channel_id, SENML)
    mf.send_message(thing.key, channel_id, [{"n": "hum", "v": 40}], subtopic="a/b")
    mf.send_message(thing.key, channel_id, b'[{"n":"door","vb":true,"t":1000}]', subtopic="a.b")
    mf.send_message(thing.key, channel_id, '[{"n":"label","vs":"on","t":2000}]')
    wait_until(lambda: mf.read_messages(thing.key, channel_id).total == 4, "4 messages stored")

    def names(**filters: object) -> set[str | None]:
        page = mf.read_messages(thing.key, channel_id, limit=100, **filters)  # type: ignore[arg-type]
        assert page.total == len(page.items)
        return {m.name for m in page.items}

    assert names(subtopic="a/b") == {"hum", "door"}
    assert names(subtopic="a.b") == {"hum", "door"}
    assert names(name="dev:temp") == {"dev:temp"}
    assert names(publisher=thing.id, protocol="http") == {"dev:temp", "hum", "door", "label"}
    assert names(protocol="mqtt") == set()
    assert names(value=30, comparator="gt") == {"hum"}
    assert names(value=21.5) == {"dev:temp"}
    assert names(bool_value=True) == {"door"}
    assert names(string_value="on") == {"label"}
    assert names(from_time=500, to_time=1500) == {"door"}
    first = mf.read_messages(token, channel_id, limit=1)  # the owner's user token works too
    assert first.total == 4 and len(first.items) == 1
    assert [m.unit for m in mf.iter_messages(thing.key, channel_id, name="dev:temp")] == ["C"]
    with pytest.raises(Unauthorized):
        mf.send_message("wrong-key", channel_id, SENML)
    with pytest.raises(Unauthorized):
        mf.read_messages("wrong-key", channel_id)
    with pytest.raises(BadRequest):
        mf.send_message(thing.key, channel_id, SENML, subtopic="a*b")


def test_version_health_and_where_the_platform_listens(
    mf: Client, shared_platform: Platform
) -> None:
    assert (mf.version().service, mf.version().version) == ("things", __version__)
    assert mf.health().status == "pass"
    assert mf.health().checks == {"database": None}, "the embedded platform's one dependency"
    info = mf.platform_info()
    assert info is not None
    assert info.mqtt_port == shared_platform.mqtt_port
    assert (info.http_prefix, info.ws_prefix) == ("/http", "/ws")


def test_where_the_platform_listens_is_read_only(shared_platform: Platform) -> None:
    response = httpx.post(f"{shared_platform.url}/.well-known/mainflux", content=b"{}")
    assert response.status_code == 405
    assert httpx.head(f"{shared_platform.url}/.well-known/mainflux").status_code == 200


def test_watch_follows_a_channel_until_the_loop_stops(mf: Client) -> None:
    _, token = _user(mf)
    thing, channel_id = _device(mf, token)
    assert thing.key
    opened = threading.Event()
    received: list[bytes | str] = []

    def follow() -> None:
        for payload in mf.watch(thing.key or "", channel_id, on_open=opened.set):
            received.append(payload)
            if len(received) == 2:
                return

    reader = threading.Thread(target=follow)
    reader.start()
    assert opened.wait(10), "the WebSocket never opened"
    mf.send_message(thing.key, channel_id, "first")
    mf.send_message(thing.key, channel_id, b"\xff\x00")
    reader.join(10)
    assert not reader.is_alive()
    assert received == ["first", b"\xff\x00"]


def test_watch_refuses_a_message_over_its_bound(mf: Client) -> None:
    _, token = _user(mf)
    thing, channel_id = _device(mf, token)
    opened = threading.Event()
    outcome: list[BaseException] = []

    def follow() -> None:
        try:
            for _ in mf.watch(thing.key or "", channel_id, on_open=opened.set, max_size=64):
                pass
        except Exception as exc:
            outcome.append(exc)

    reader = threading.Thread(target=follow)
    reader.start()
    assert opened.wait(10), "the WebSocket never opened"
    mf.send_message(thing.key or "", channel_id, b"x" * 1000)
    reader.join(10)
    assert not reader.is_alive()
    assert isinstance(outcome[0], PayloadTooLarge), outcome


def test_watch_with_a_wrong_key_is_unauthorized(mf: Client) -> None:
    _, token = _user(mf)
    _, channel_id = _device(mf, token)
    with pytest.raises(Unauthorized) as refused:
        next(iter(mf.watch("wrong-key", channel_id)))
    assert refused.value.status == 403


def test_watch_is_closed_as_unauthorized_when_the_thing_is_disconnected(mf: Client) -> None:
    _, token = _user(mf)
    thing, channel_id = _device(mf, token)
    opened = threading.Event()
    outcome: list[BaseException] = []

    def follow() -> None:
        try:
            for _ in mf.watch(thing.key or "", channel_id, on_open=opened.set):
                pass
        except Exception as exc:
            outcome.append(exc)

    reader = threading.Thread(target=follow)
    reader.start()
    assert opened.wait(10), "the WebSocket never opened"
    mf.disconnect(token, channel_id, thing.id)
    reader.join(10)
    assert not reader.is_alive()
    assert isinstance(outcome[0], Unauthorized) and "revoked" in outcome[0].message


@pytest.mark.parametrize("token", ["caf\u00e9", "a\nb", "a\r\nX-Injected: 1"])
def test_a_token_http_cannot_carry_is_refused_before_sending(mf: Client, token: str) -> None:
    with pytest.raises(BadRequest) as refused:
        mf.user(token)
    assert refused.value.status is None
    assert "cannot carry" in refused.value.message


def test_an_unreachable_platform_is_one_error_with_the_url() -> None:
    port = free_port()
    with Client(f"http://127.0.0.1:{port}", timeout=5) as mf:
        with pytest.raises(Unreachable) as down:
            mf.create_token("a@example.com", "12345678")
        assert down.value.status is None
        assert str(down.value) == (
            f"cannot reach the platform at http://127.0.0.1:{port}/tokens: connection refused"
        )
        with pytest.raises(Unreachable):
            next(iter(mf.watch("key", "channel")))


async def test_an_answer_that_is_not_the_platforms_is_a_server_error() -> None:
    async def page(request: Request) -> Response:
        return HTMLResponse("<html>a captive portal</html>")

    app = Starlette(routes=[Route("/users", page), Route("/things", page)])
    async with serving(app) as port, AsyncClient(f"http://127.0.0.1:{port}") as mf:
        with pytest.raises(ServerError) as odd:
            await mf.user("token")
        assert odd.value.status == 200
        assert odd.value.message == "unexpected answer: the answer is not JSON"
        with pytest.raises(ServerError):
            await mf.things("token")


def test_services_can_live_at_their_own_urls(shared_platform: Platform) -> None:
    config = Config.microservices("10.0.0.1")
    assert config.url("things", "/things") == "http://10.0.0.1:8182/things"
    assert config.url("ws", "/x") == "ws://10.0.0.1:8186/x"
    gateway = Config(shared_platform.url)
    assert gateway.url("http", "/channels/c/messages").endswith("/http/channels/c/messages")
    assert gateway.url("ws").startswith("ws://127.0.0.1:")
    split = Config("http://unused.invalid", things_url=shared_platform.url)
    with Client(split) as mf:
        assert mf.version("things").service == "things"


async def test_the_async_client_has_the_same_calls(shared_platform: Platform) -> None:
    async with AsyncClient(shared_platform.url) as mf:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        await mf.create_user(email, "12345678")
        token = await mf.create_token(email, "12345678")
        assert (await mf.user(token)).email == email
        made = await mf.create_things(token, [{"name": f"a{i}"} for i in range(12)])
        channel_id = await mf.create_channel(token, name="async")
        await mf.connect(token, [channel_id], [made[0].id])
        assert len([t async for t in mf.iter_things(token)]) == 12
        key = made[0].key or ""

        opened = asyncio.Event()
        received: list[bytes | str] = []

        async def follow() -> None:
            async for payload in mf.watch(key, channel_id, on_open=opened.set):
                received.append(payload)
                return

        watcher = asyncio.create_task(follow())
        await asyncio.wait_for(opened.wait(), 10)
        await mf.send_message(key, channel_id, SENML)
        await asyncio.wait_for(watcher, 10)
        assert received == [SENML]

        deadline = time.monotonic() + 10
        while (await mf.read_messages(key, channel_id)).total < 1:
            assert time.monotonic() < deadline, "the message was never stored"
            await asyncio.sleep(0.05)
        assert [m.name async for m in mf.iter_messages(key, channel_id)] == ["dev:temp"]
        with pytest.raises(NotFound):
            await mf.thing(token, str(uuid.uuid4()))
        with pytest.raises(Unauthorized):
            await mf.things("bad-token")


def _examples() -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


@pytest.mark.parametrize("number", range(len(_examples())))
def test_every_example_of_the_sdk_guide_runs(shared_platform: Platform, number: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MF_", "MAINFLUX_"))}
    result = subprocess.run(
        [sys.executable, "-c", _examples()[number]],
        env={
            **env,
            "MAINFLUX_URL": shared_platform.url,
            "MAINFLUX_BOOTSTRAP_KEY": (shared_platform.data_dir / "bootstrap.key").read_text(),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the example printed nothing"
