"""The web console over the real users, authn and things services (SQLite, in process),
mounted in the gateway as ``mainflux run`` does: CSRF refusals, sessions, field errors
for bad metadata and bad CSV, bounds on uploads, and every form's happy path."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mainflux.authn import main as authn_main
from mainflux.authn.api import create_app as create_authn_app
from mainflux.bootstrap import main as bootstrap_main
from mainflux.bootstrap.api import create_app as create_bootstrap_app
from mainflux.bootstrap.things import HttpThingsClient
from mainflux.console.allinone import console_config
from mainflux.console.app import create_app as create_console_app
from mainflux.console.app import running
from mainflux.console.feed import EventFeed
from mainflux.console.forms import MAX_CSV_BYTES
from mainflux.core.db import create_engine
from mainflux.events.sql import SqlEventStream
from mainflux.gateway import Gateway, GatewayApps
from mainflux.things import main as things_main
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.users import main as users_main
from mainflux.users.api import create_app as create_users_app
from mainflux.users.email import OutboxEmailer
from mainflux.users.hasher import BcryptHasher

BASE = "http://console.test"
EMAIL, PASSWORD = "ada@example.com", "correct horse"
BOOTSTRAP_KEY = "12345678910111213141516171819202"


class Browser:
    """An httpx client that carries cookies and the page's CSRF token, like a browser."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.http = client
        self.csrf = ""

    async def get(self, path: str) -> httpx.Response:
        response = await self.http.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(self, path: str, data: dict[str, str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
        body = {"csrf": self.csrf, **(data or {})}
        return await self.http.post(path, data=body, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def browser(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    engine = create_engine(sqlite_url)
    authn = await authn_main.build_service(engine, "a-secret-for-tests-only-32-bytes!")
    users = await users_main.build_service(
        engine, authn, OutboxEmailer(str(tmp_path)), hasher=BcryptHasher(4)
    )
    events = SqlEventStream(engine)
    await events.create_schema()
    things = await things_main.build_service(engine, authn, events, InMemoryAccessCache())
    things_app = create_things_app(things)
    # Bootstrap as the all-in-one has it: things called in process, with the user's token.
    bootstrap_things = HttpThingsClient(
        "http://things", transport=httpx.ASGITransport(app=things_app)
    )
    key = bytes.fromhex(BOOTSTRAP_KEY)
    bootstrap, _ = await bootstrap_main.build_service(engine, authn, bootstrap_things, events, key)

    async def via_gateway(scope: Scope, receive: Receive, send: Send) -> None:
        await gateway(scope, receive, send)

    config = console_config(via_gateway, events, 1883)
    config = type(config)(
        client=config.client, endpoints=config.endpoints, feed=config.feed, has_reader=False
    )
    gateway = Gateway(
        GatewayApps(
            users=create_users_app(users),
            authn=create_authn_app(authn),
            things=things_app,
            bootstrap=create_bootstrap_app(bootstrap, key),
            console=create_console_app(config, own_lifespan=False),
        )
    )
    async with (
        running(config),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url=BASE, follow_redirects=True
        ) as client,
    ):
        yield Browser(client)
    await bootstrap_things.close()
    await engine.dispose()


async def _sign_up(browser: Browser) -> None:
    await browser.get("/ui/signup")
    reply = await browser.post(
        "/ui/signup", {"email": EMAIL, "password": PASSWORD, "confirm": PASSWORD}
    )
    assert reply.status_code == 200 and "Account created" in reply.text, reply.text


def _field_error(page: str, field: str) -> str:
    found = re.search(rf'class="field-error" id="e-{field}"[^>]*>([^<]*)<', page)
    return found.group(1) if found else ""


async def test_root_redirects_to_the_console_and_logged_out_pages_to_login(
    browser: Browser,
) -> None:
    reply = await browser.http.get("/", follow_redirects=False)
    assert reply.status_code == 302 and reply.headers["location"] == "/ui/"
    reply = await browser.get("/ui/things")
    assert reply.url.path == "/ui/login"
    policy = reply.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    csrf_cookie = next(c for c in browser.http.cookies.jar if c.name == "mf_csrf")
    assert csrf_cookie.path == "/ui" and csrf_cookie.has_nonstandard_attr("HttpOnly")
    assert (await browser.http.get("/ui/static/console.js")).status_code == 200
    assert (await browser.http.get("/ui")).url.path == "/ui/login"


async def test_the_session_cookie_is_the_platform_token_httponly_and_samesite(
    browser: Browser,
) -> None:
    await browser.get("/ui/signup")
    reply = await browser.http.post(
        "/ui/signup",
        data={"csrf": browser.csrf, "email": EMAIL, "password": PASSWORD, "confirm": PASSWORD},
        follow_redirects=False,
    )
    assert reply.status_code == 303
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith("mf_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    profile = await browser.http.get("/users", headers={"Authorization": token})
    assert profile.json()["email"] == EMAIL


@pytest.mark.parametrize(
    "token",
    [None, "", "forged-token-from-another-site"],
    ids=["missing", "empty", "wrong"],
)
async def test_a_form_without_this_browsers_csrf_token_is_refused(
    browser: Browser, token: str | None
) -> None:
    await _sign_up(browser)
    data = {"name": "sneaky"}
    if token is not None:
        data["csrf"] = token
    reply = await browser.http.post("/ui/things", data=data)
    assert reply.status_code == 403
    assert "could not be verified" in reply.text
    listing = await browser.get("/ui/things")
    assert "sneaky" not in listing.text


async def test_a_csrf_token_without_its_cookie_is_refused(browser: Browser) -> None:
    await _sign_up(browser)
    browser.http.cookies.delete("mf_csrf")
    reply = await browser.post("/ui/logout")
    assert reply.status_code == 403
    assert (await browser.get("/ui/")).url.path == "/ui/"  # still logged in


async def test_a_planted_csrf_cookie_is_replaced_not_echoed(browser: Browser) -> None:
    browser.http.cookies.set("mf_csrf", '"><script>alert(1)</script>', domain="console.test")
    page = await browser.get("/ui/login")
    assert "<script>alert" not in page.text
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", browser.csrf)
    assert "mf_csrf=" + browser.csrf in page.headers["set-cookie"]


async def test_login_refuses_a_forged_form_too(browser: Browser) -> None:
    reply = await browser.http.post("/ui/login", data={"email": EMAIL, "password": PASSWORD})
    assert reply.status_code == 403


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ('{"room": ', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ('{"a":' * 40 + "1" + "}" * 40, "nests deeper than 32 levels"),
        ('{"a": "' + "x" * (70 * 1024) + '"}', "at most"),
    ],
    ids=["truncated", "array", "string", "too-deep", "too-large"],
)
async def test_bad_metadata_is_shown_next_to_its_field(
    browser: Browser, metadata: str, message: str
) -> None:
    await _sign_up(browser)
    await browser.get("/ui/things")
    reply = await browser.post("/ui/things", {"name": "lamp", "metadata": metadata})
    assert reply.status_code == 400
    assert message in _field_error(reply.text, "metadata")
    assert 'value="lamp"' in reply.text  # what was typed stays
    listing = await browser.get("/ui/things")
    assert "No things yet." in listing.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'lamp,"{unclosed\n', "not valid CSV"),
        (b"lamp,{bad json}\n", "row 1: metadata not valid JSON"),
        (b"name,metadata\nok\nx,[1]\n", "row 2: metadata must be a JSON object"),
        (b"a,b,c\n", "row 1: expected name[,metadata], got 3 columns"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"name,metadata\n\n", "no rows"),
        (b"".join(b"t%d\n" % i for i in range(101)), "at most 100 rows"),
        (b"x" * (MAX_CSV_BYTES + 10), "larger than"),
    ],
    ids=["quote", "json", "not-object", "columns", "binary", "empty", "rows", "size"],
)
async def test_a_bad_csv_is_refused_next_to_the_file_field(
    browser: Browser, content: bytes, message: str
) -> None:
    await _sign_up(browser)
    await browser.get("/ui/channels")
    reply = await browser.post("/ui/channels/bulk", files={"file": ("c.csv", content, "text/csv")})
    assert reply.status_code == 400
    assert message in _field_error(reply.text, "file")
    listing = await browser.get("/ui/channels")
    assert "No channels yet." in listing.text


async def test_an_oversized_upload_is_413_and_the_console_lives_on(browser: Browser) -> None:
    await _sign_up(browser)
    await browser.get("/ui/things")
    huge = b"x" * (MAX_CSV_BYTES + 128 * 1024)
    reply = await browser.post("/ui/things/bulk", files={"file": ("t.csv", huge, "text/csv")})
    assert reply.status_code == 413
    assert (await browser.get("/ui/things")).status_code == 200


async def test_a_good_csv_creates_every_row(browser: Browser) -> None:
    await _sign_up(browser)
    await browser.get("/ui/things")
    content = b'name,metadata\nlamp,"{""room"":""hall""}"\nfan\n'
    reply = await browser.post("/ui/things/bulk", files={"file": ("t.csv", content, "text/csv")})
    assert reply.status_code == 200 and "Created." in reply.text
    assert ">lamp</a>" in reply.text and ">fan</a>" in reply.text


async def test_things_and_channels_connect_edit_rekey_and_delete(browser: Browser) -> None:
    await _sign_up(browser)
    await browser.get("/ui/things")
    thing = await browser.post("/ui/things", {"name": "lamp", "metadata": '{"w": 40}'})
    thing_id = thing.url.path.rsplit("/", 1)[1]
    old_key = re.search(r'aria-label="Key of [^"]+" size="20" class="key"', thing.text)
    assert old_key is not None
    key_before = re.search(r'readonly value="([^"]+)"', thing.text).group(1)  # type: ignore[union-attr]
    channel = await browser.post("/ui/channels", {"name": "hall"})
    channel_id = channel.url.path.rsplit("/", 1)[1]

    connected = await browser.post(f"/ui/things/{thing_id}/connect", {"id": channel_id})
    assert "Connected." in connected.text and f"channels/{channel_id}/messages" in connected.text
    edited = await browser.post(f"/ui/things/{thing_id}", {"name": "lamp 2", "metadata": ""})
    assert "Saved." in edited.text and "lamp 2" in edited.text
    rekeyed = await browser.post(f"/ui/things/{thing_id}/key")
    key_after = re.search(r'readonly value="([^"]+)"', rekeyed.text).group(1)  # type: ignore[union-attr]
    assert "new key" in rekeyed.text and key_after != key_before
    gone = await browser.post(f"/ui/channels/{channel_id}/disconnect", {"id": thing_id})
    assert "Disconnected." in gone.text
    confirm = await browser.get(f"/ui/channels/{channel_id}/delete")
    assert "cannot be undone" in confirm.text
    deleted = await browser.post(f"/ui/channels/{channel_id}/delete")
    assert "Deleted." in deleted.text and "No channels yet." in deleted.text
    missing = await browser.get(f"/ui/channels/{channel_id}")
    assert missing.status_code == 404


async def test_search_and_paging(browser: Browser) -> None:
    await _sign_up(browser)
    await browser.get("/ui/things")
    rows = b"".join(b"sensor-%02d\n" % i for i in range(12)) + b"other\n"
    await browser.post("/ui/things/bulk", files={"file": ("t.csv", rows, "text/csv")})
    first = await browser.get("/ui/things?name=sensor")
    assert "1\u201310 of 12" in first.text and "other" not in first.text
    second = await browser.get("/ui/things?name=sensor&offset=10")
    assert "11\u201312 of 12" in second.text


async def test_account_password_and_api_keys(browser: Browser) -> None:
    await _sign_up(browser)
    await browser.get("/ui/account")
    wrong = await browser.post(
        "/ui/account/password",
        {"old_password": "nope", "password": "n3w password", "confirm": "n3w password"},
    )
    assert wrong.status_code == 403 and _field_error(wrong.text, "old_password")
    differ = await browser.post(
        "/ui/account/password", {"old_password": PASSWORD, "password": "a", "confirm": "b"}
    )
    assert differ.status_code == 400 and "differ" in _field_error(differ.text, "confirm")
    bad = await browser.post("/ui/account/keys", {"duration": "soon"})
    assert bad.status_code == 400 and "whole number" in _field_error(bad.text, "duration")
    issued = await browser.post("/ui/account/keys", {"duration": "3600"})
    key_id = re.search(r'id="issued-id">([^<]+)<', issued.text).group(1)  # type: ignore[union-attr]
    looked = await browser.get(f"/ui/account?key_id={key_id}")
    assert "Expires" in looked.text
    revoked = await browser.post("/ui/account/keys/revoke", {"key_id": key_id})
    assert "API key revoked." in revoked.text
    changed = await browser.post(
        "/ui/account/password",
        {"old_password": PASSWORD, "password": "n3w password", "confirm": "n3w password"},
    )
    assert "Password changed." in changed.text


async def test_logging_out_forgets_the_session_and_a_dead_token_logs_out(
    browser: Browser,
) -> None:
    await _sign_up(browser)
    await browser.get("/ui/")
    reply = await browser.post("/ui/logout")
    assert reply.url.path == "/ui/login"
    assert "mf_session" not in browser.http.cookies
    browser.http.cookies.set("mf_session", "not-a-token", domain="console.test", path="/ui")
    assert (await browser.get("/ui/channels")).url.path == "/ui/login"


async def test_home_counts_and_recent_events(browser: Browser) -> None:
    await _sign_up(browser)
    await browser.get("/ui/things")
    await browser.post("/ui/things", {"name": "lamp"})
    home = await browser.get("/ui/")
    assert re.search(r'id="count-things">1<', home.text)
    assert "thing.create" in home.text


async def test_the_feed_shows_each_owner_only_their_events(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    events = SqlEventStream(engine)
    await events.create_schema()
    stream = "mainflux.things"
    await events.append(stream, {"operation": "thing.create", "id": "t1", "owner": "ada@x.io"})
    await events.append(stream, {"operation": "thing.create", "id": "t2", "owner": "bob@x.io"})
    feed = EventFeed(events, size=10)
    assert await feed.poll() == 2
    await events.append(stream, {"operation": "thing.connect", "thing_id": "t1", "chan_id": "c"})
    await events.append(stream, {"operation": "thing.remove", "id": "t2"})
    assert await feed.poll() == 2
    ada = [e.operation for e in feed.recent("Ada@x.io")]
    assert ada == ["thing.connect", "thing.create"]
    assert [e.operation for e in feed.recent("bob@x.io")] == ["thing.remove", "thing.create"]
    assert feed.recent("eve@x.io") == []
    for n in range(20):
        await events.append(stream, {"operation": "thing.update", "id": "t1", "name": str(n)})
    await feed.poll()
    assert len(feed.recent("ada@x.io", count=100)) == 10  # bounded
    await engine.dispose()


async def _channel(browser: Browser, name: str) -> str:
    await browser.get("/ui/channels")
    created = await browser.post("/ui/channels", {"name": name})
    return created.url.path.rsplit("/", 1)[1]


async def test_bootstrap_configs_add_edit_and_whitelist(browser: Browser) -> None:
    await _sign_up(browser)
    hall, porch = await _channel(browser, "hall"), await _channel(browser, "porch")
    listed = await browser.get("/ui/bootstrap")
    assert (
        'aria-current="page">Bootstrap<' in listed.text
        and "No bootstrap configs yet." in listed.text
    )
    spec = {"external_id": "aa:bb:cc", "external_key": "k-1", "name": "gate", "channels": [hall]}
    added = await browser.post("/ui/bootstrap", spec)
    assert added.url.path.startswith("/ui/bootstrap/") and "Created." in added.text
    thing_id = added.url.path.rsplit("/", 1)[1]
    assert "inactive (not connected)" in added.text
    listed = await browser.get("/ui/bootstrap")
    assert "aa:bb:cc" in listed.text and thing_id in listed.text

    edited = await browser.post(
        f"/ui/bootstrap/{thing_id}",
        {"name": "gate 2", "content": '{"interval": 5}', "channels": [hall, porch]},
    )
    assert "Saved." in edited.text and "Config gate 2" in edited.text
    assert "{&#34;interval&#34;: 5}" in edited.text

    whitelisted = await browser.post(f"/ui/bootstrap/{thing_id}/state", {"state": "1"})
    assert "Whitelisted" in whitelisted.text and "whitelisted (connected" in whitelisted.text
    # The thing is connected in the things service, to both channels.
    thing = await browser.get(f"/ui/things/{thing_id}")
    connections = thing.text.split('class="connections"', 1)[1]
    assert "hall" in connections and "porch" in connections
    # And the device gets what the console set.
    device = await browser.http.get("/things/bootstrap/aa:bb:cc", headers={"Authorization": "k-1"})
    assert device.status_code == 200, device.text
    assert device.json()["content"] == '{"interval": 5}'
    assert {c["id"] for c in device.json()["mainflux_channels"]} == {hall, porch}

    unlisted = await browser.post(f"/ui/bootstrap/{thing_id}/state", {"state": "0"})
    assert "Off the whitelist" in unlisted.text
    thing = await browser.get(f"/ui/things/{thing_id}")
    assert 'class="connections"' not in thing.text  # disconnected from both


async def test_bootstrap_form_mistakes_are_shown_next_to_their_field(browser: Browser) -> None:
    await _sign_up(browser)
    hall = await _channel(browser, "hall")
    await browser.get("/ui/bootstrap")
    missing = await browser.post("/ui/bootstrap", {"external_id": " ", "external_key": "k"})
    assert missing.status_code == 400 and _field_error(missing.text, "external_id") == "required"
    no_key = await browser.post("/ui/bootstrap", {"external_id": "e-1", "external_key": ""})
    assert no_key.status_code == 400 and _field_error(no_key.text, "external_key") == "required"
    big = await browser.post(
        "/ui/bootstrap", {"external_id": "e-1", "external_key": "k", "content": "x" * 70_000}
    )
    assert big.status_code == 400 and "at most 64 KiB" in _field_error(big.text, "content")
    unknown = await browser.post(
        "/ui/bootstrap",
        {"external_id": "e-1", "external_key": "k", "channels": ["no-such-channel"]},
    )
    assert unknown.status_code in (400, 404) and _field_error(unknown.text, "channels")
    assert 'value="e-1"' in unknown.text  # what was typed stays
    ok = await browser.post(
        "/ui/bootstrap", {"external_id": "e-1", "external_key": "k", "channels": [hall]}
    )
    assert "Created." in ok.text
    thing_id = ok.url.path.rsplit("/", 1)[1]
    await browser.get("/ui/bootstrap")
    taken = await browser.post("/ui/bootstrap", {"external_id": "e-1", "external_key": "k2"})
    assert taken.status_code == 409 and _field_error(taken.text, "external_id")
    bad_state = await browser.post(f"/ui/bootstrap/{thing_id}/state", {"state": "2"})
    assert (
        bad_state.status_code == 400 and _field_error(bad_state.text, "state") == "must be 0 or 1"
    )
    forged = await browser.http.post(f"/ui/bootstrap/{thing_id}/state", data={"state": "1"})
    assert forged.status_code == 403 and "could not be verified" in forged.text
    nothing = await browser.get("/ui/bootstrap/no-such-config")
    assert nothing.status_code == 404 and "No such config." in nothing.text
    still = await browser.get(f"/ui/bootstrap/{thing_id}")
    assert "inactive (not connected)" in still.text
