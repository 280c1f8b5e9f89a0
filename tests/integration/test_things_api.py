"""The things management HTTP API: every route, status and bad input (SQLite-backed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from mainflux.core.db import create_engine
from mainflux.core.errors import Unauthorized
from mainflux.things.api import create_app
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.main import build_service

ALICE, BOB = "alice-token", "bob-token"
JSON = {"Content-Type": "application/json"}


class TwoUsers:
    """A user-auth port that knows two tokens."""

    async def identify(self, token: str) -> str:
        users = {ALICE: "alice@example.com", BOB: "bob@example.com"}
        if token not in users:
            raise Unauthorized()
        return users[token]

    async def issue(self, issuer: str, key_type: int) -> str:
        raise Unauthorized()


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(sqlite_url)
    service = await build_service(engine, TwoUsers(), None, InMemoryAccessCache())
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as client:
        yield client
    await engine.dispose()


def _h(token: str = ALICE, json: bool = True) -> dict[str, str]:
    return {"Authorization": token, **(JSON if json else {})}


async def _create(client: httpx.AsyncClient, kind: str, body: dict, token: str = ALICE) -> str:
    response = await client.post(f"/{kind}", json=body, headers=_h(token))
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[1]


async def test_create_thing_answers_201_with_location(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"name": "t1"}, headers=_h())
    assert response.status_code == 201
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"
    location = response.headers["location"]
    assert location.startswith("/things/")
    assert uuid.UUID(location.rsplit("/", 1)[1]).version == 4
    assert "/things/bulk" in response.headers["warning-deprecated"]
    view = (await client.get(location, headers=_h())).json()
    assert view["name"] == "t1" and uuid.UUID(view["key"])
    assert "metadata" not in view


async def test_bulk_create_returns_every_entity(client: httpx.AsyncClient) -> None:
    body = [{"name": "a", "metadata": {"x": 1}}, {"key": "given-key"}]
    response = await client.post("/things/bulk", json=body, headers=_h())
    assert response.status_code == 201
    things = response.json()["things"]
    assert things[0]["name"] == "a" and things[0]["metadata"] == {"x": 1}
    assert things[1] == {"id": things[1]["id"], "key": "given-key"}
    response = await client.post("/channels/bulk", json=[{"name": "c"}, {}], headers=_h())
    assert response.status_code == 201
    channels = response.json()["channels"]
    assert channels[0]["name"] == "c" and set(channels[1]) == {"id"}


async def test_channel_create_view_update_remove(client: httpx.AsyncClient) -> None:
    response = await client.post("/channels", json={"name": "c"}, headers=_h())
    assert response.status_code == 201
    assert "/channels/bulk" in response.headers["warning-deprecated"]
    location = response.headers["location"]
    assert location.startswith("/channels/")
    response = await client.put(location, json={"name": "d", "metadata": {"m": 1}}, headers=_h())
    assert response.status_code == 200 and response.content == b""
    view = (await client.get(location, headers=_h())).json()
    assert view == {"id": location.rsplit("/", 1)[1], "name": "d", "metadata": {"m": 1}}
    assert (await client.delete(location, headers=_h())).status_code == 204
    assert (await client.get(location, headers=_h())).status_code == 404
    assert (await client.delete(location, headers=_h())).status_code == 204
    assert (await client.delete("/channels/not-a-uuid", headers=_h())).status_code == 204


async def test_thing_update_key_and_delete(client: httpx.AsyncClient) -> None:
    thing = await _create(client, "things", {"name": "t", "key": "k1"})
    await _create(client, "things", {"key": "k2"})
    response = await client.put(f"/things/{thing}", json={"name": "u"}, headers=_h())
    assert response.status_code == 200
    response = await client.patch(f"/things/{thing}/key", json={"key": "k2"}, headers=_h())
    assert response.status_code == 422
    assert response.json() == {"error": "entity already exists"}
    response = await client.patch(f"/things/{thing}/key", json={"key": "k3"}, headers=_h())
    assert response.status_code == 200
    assert (await client.get(f"/things/{thing}", headers=_h())).json()["key"] == "k3"
    assert (await client.delete(f"/things/{thing}", headers=_h())).status_code == 204
    assert (await client.delete(f"/things/{thing}", headers=_h())).status_code == 204
    assert (await client.get(f"/things/{thing}", headers=_h())).status_code == 404


async def test_duplicate_key_on_create_is_422(client: httpx.AsyncClient) -> None:
    await _create(client, "things", {"key": "same"})
    response = await client.post("/things", json={"key": "same"}, headers=_h(BOB))
    assert response.status_code == 422
    response = await client.post("/things/bulk", json=[{"key": "z"}, {"key": "z"}], headers=_h())
    assert response.status_code == 422


async def test_lists_filter_page_and_count(client: httpx.AsyncClient) -> None:
    for i in range(3):
        await _create(client, "things", {"name": f"Lamp {i}", "metadata": {"a": i}})
    await _create(client, "things", {"name": "other"})
    await _create(client, "things", {"name": "lamp of bob"}, BOB)
    body = (await client.get("/things", params={"name": "LAMP"}, headers=_h())).json()
    assert (body["total"], body["offset"], body["limit"]) == (3, 0, 10)
    assert sorted(t["name"] for t in body["things"]) == ["Lamp 0", "Lamp 1", "Lamp 2"]
    assert [t["id"] for t in body["things"]] == sorted(t["id"] for t in body["things"])
    body = (await client.get("/things?metadata=%7B%22a%22%3A1%7D", headers=_h())).json()
    assert [t["name"] for t in body["things"]] == ["Lamp 1"] and body["total"] == 1
    body = (await client.get("/things?offset=1&limit=2", headers=_h())).json()
    assert (body["total"], body["offset"], body["limit"], len(body["things"])) == (4, 1, 2, 2)
    assert "name" not in body
    await _create(client, "channels", {"name": "Chan", "metadata": {"t": ["x"]}})
    body = (await client.get('/channels?name=chan&metadata={"t":["x"]}', headers=_h())).json()
    assert body["total"] == 1 and body["channels"][0]["name"] == "Chan"


BAD_LIST_QUERIES = [
    ("limit zero", "limit=0"),
    ("limit over 100", "limit=101"),
    ("limit not a number", "limit=abc"),
    ("negative offset", "offset=-1"),
    ("superscript digit", "limit=%C2%B2"),
    ("arabic-indic digit", "offset=%D9%A3"),
    ("5000 digits", "offset=" + "9" * 5000),
    ("offset past int64", "offset=9223372036854775808"),
    ("repeated limit", "limit=1&limit=2"),
    ("repeated name", "name=a&name=b"),
    ("long name", "name=" + "n" * 1025),
    ("broken metadata", "metadata=%7Bbroken"),
    ("metadata array", "metadata=%5B1%5D"),
    ("metadata number", "metadata=5"),
    ("metadata 33 deep", "metadata=" + "%7B%22a%22%3A" * 33 + "1" + "%7D" * 33),
    ("metadata 900 deep", "metadata=%7B%22a%22%3A" + "%5B" * 900 + "%5D" * 900 + "%7D"),
]


@pytest.mark.parametrize(
    "query", [q for _, q in BAD_LIST_QUERIES], ids=[n for n, _ in BAD_LIST_QUERIES]
)
@pytest.mark.parametrize("path", ["/things", "/channels"])
async def test_bad_list_queries_are_400(client: httpx.AsyncClient, path: str, query: str) -> None:
    response = await client.get(f"{path}?{query}", headers=_h())
    assert response.status_code == 400
    assert "error" in response.json()


async def test_connect_disconnect_and_lists_both_ways(client: httpx.AsyncClient) -> None:
    thing = await _create(client, "things", {"name": "t"})
    channel = await _create(client, "channels", {"name": "c"})
    path = f"/channels/{channel}/things/{thing}"
    response = await client.put(path, headers=_h(json=False))
    assert response.status_code == 200 and "/connect" in response.headers["warning-deprecated"]
    assert (await client.put(path, headers=_h(json=False))).status_code == 422
    body = (await client.get(f"/channels/{channel}/things", headers=_h())).json()
    assert body["total"] == 1 and body["things"][0]["key"]
    body = (await client.get(f"/things/{thing}/channels", headers=_h())).json()
    assert body["channels"] == [{"id": channel, "name": "c"}]
    assert (await client.delete(path, headers=_h())).status_code == 204
    assert (await client.delete(path, headers=_h())).status_code == 404

    other = await _create(client, "channels", {})
    body = {"channel_ids": [channel, other], "thing_ids": [thing]}
    assert (await client.post("/connect", json=body, headers=_h())).status_code == 200
    assert (await client.post("/connect", json=body, headers=_h())).status_code == 422
    body = (await client.get(f"/things/{thing}/channels?limit=1", headers=_h())).json()
    assert (body["total"], len(body["channels"])) == (2, 1)
    missing = {"channel_ids": [channel], "thing_ids": [str(uuid.uuid4())]}
    assert (await client.post("/connect", json=missing, headers=_h())).status_code == 404
    assert (await client.put(f"/channels/{channel}/things/x", headers=_h())).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"channel_ids": [], "thing_ids": ["a"]},
        {"channel_ids": ["a"]},
        {"channel_ids": ["a"], "thing_ids": [""]},
        {"channel_ids": "a", "thing_ids": ["a"]},
        {"channel_ids": [1], "thing_ids": ["a"]},
        [],
    ],
)
async def test_bad_connect_bodies_are_400(client: httpx.AsyncClient, body: object) -> None:
    response = await client.post("/connect", json=body, headers=_h())
    assert response.status_code == 400


async def test_another_users_entities_are_invisible(client: httpx.AsyncClient) -> None:
    thing = await _create(client, "things", {"name": "mine"})
    channel = await _create(client, "channels", {"name": "mine"})
    bob_thing = await _create(client, "things", {}, BOB)
    for method, path, body in [
        ("GET", f"/things/{thing}", None),
        ("PUT", f"/things/{thing}", {"name": "x"}),
        ("PATCH", f"/things/{thing}/key", {"key": "x"}),
        ("GET", f"/channels/{channel}", None),
        ("PUT", f"/channels/{channel}", {"name": "x"}),
        ("PUT", f"/channels/{channel}/things/{bob_thing}", None),
        ("POST", "/connect", {"channel_ids": [channel], "thing_ids": [bob_thing]}),
    ]:
        response = await client.request(method, path, json=body, headers=_h(BOB))
        assert response.status_code == 404, (method, path)
    assert (await client.delete(f"/things/{thing}", headers=_h(BOB))).status_code == 204
    assert (await client.delete(f"/channels/{channel}", headers=_h(BOB))).status_code == 204
    assert (await client.get(f"/things/{thing}", headers=_h())).json()["name"] == "mine"
    assert (await client.get(f"/channels/{channel}", headers=_h())).status_code == 200
    assert (await client.get("/things", headers=_h(BOB))).json()["total"] == 1


@pytest.mark.parametrize("token", ["", "wrong-token"], ids=["no-token", "wrong-token"])
async def test_bad_tokens_are_403(client: httpx.AsyncClient, token: str) -> None:
    some = str(uuid.uuid4())
    for method, path, body in [
        ("POST", "/things", {}),
        ("POST", "/things/bulk", [{}]),
        ("GET", "/things", None),
        ("GET", f"/things/{some}", None),
        ("PUT", f"/things/{some}", {}),
        ("PATCH", f"/things/{some}/key", {"key": "k"}),
        ("DELETE", f"/things/{some}", None),
        ("GET", f"/things/{some}/channels", None),
        ("POST", "/channels", {}),
        ("GET", "/channels", None),
        ("DELETE", f"/channels/{some}", None),
        ("GET", f"/channels/{some}/things", None),
        ("PUT", f"/channels/{some}/things/{some}", None),
        ("DELETE", f"/channels/{some}/things/{some}", None),
        ("POST", "/connect", {"channel_ids": [some], "thing_ids": [some]}),
    ]:
        response = await client.request(method, path, json=body, headers=_h(token))
        assert response.status_code == 403, (method, path)
        assert response.json() == {"error": "missing or invalid credentials provided"}


BODY_PATHS = [
    ("POST", "/things"),
    ("POST", "/things/bulk"),
    ("PUT", "/things/{id}"),
    ("PATCH", "/things/{id}/key"),
    ("POST", "/channels"),
    ("POST", "/channels/bulk"),
    ("PUT", "/channels/{id}"),
    ("POST", "/connect"),
]


@pytest.mark.parametrize(("method", "path"), BODY_PATHS)
async def test_wrong_content_type_is_415_and_malformed_json_400(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    path = path.format(id=uuid.uuid4())
    response = await client.request(
        method, path, content=b"{}", headers={**_h(json=False), "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    response = await client.request(method, path, content=b"{not json", headers=_h())
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/things", {"name": "n" * 1025}),
        ("POST", "/things", {"name": 5}),
        ("POST", "/things", {"metadata": [1]}),
        ("POST", "/things", {"key": 1}),
        ("POST", "/things", []),
        ("POST", "/things/bulk", []),
        ("POST", "/things/bulk", {}),
        ("POST", "/things/bulk", [{"name": "n" * 1025}]),
        ("POST", "/things/bulk", [1]),
        ("PUT", "/things/{id}", {"name": "n" * 1025}),
        ("PUT", "/things/{id}", {"metadata": "x"}),
        ("PUT", "/things/not-a-uuid", {"name": "x"}),
        ("PATCH", "/things/{id}/key", {"key": ""}),
        ("PATCH", "/things/{id}/key", {}),
        ("PATCH", "/things/not-a-uuid/key", {"key": "k"}),
        ("POST", "/channels", {"name": "n" * 1025}),
        ("POST", "/channels/bulk", []),
        ("PUT", "/channels/{id}", {"metadata": 1}),
        ("PUT", "/channels/not-a-uuid", {"name": "x"}),
    ],
)
async def test_invalid_bodies_are_400(
    client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    thing = await _create(client, "things", {})
    response = await client.request(method, path.format(id=thing), json=body, headers=_h())
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/things/not-a-uuid", 404),
        ("GET", "/things/1/channels", 404),
        ("GET", "/channels/not-a-uuid", 404),
        ("GET", "/channels/1/things", 404),
        ("DELETE", "/things/not-a-uuid", 400),
        ("DELETE", "/channels/not-a-uuid", 204),
        ("PUT", "/channels/x/things/y", 404),
        ("DELETE", "/channels/x/things/y", 404),
    ],
)
async def test_non_uuid_ids(client: httpx.AsyncClient, method: str, path: str, status: int) -> None:
    response = await client.request(method, path, headers=_h())
    assert response.status_code == status


async def test_missing_entities_are_404(client: httpx.AsyncClient) -> None:
    some = str(uuid.uuid4())
    for method, path, body in [
        ("GET", f"/things/{some}", None),
        ("PUT", f"/things/{some}", {"name": "x"}),
        ("PATCH", f"/things/{some}/key", {"key": "k"}),
        ("GET", f"/channels/{some}", None),
        ("PUT", f"/channels/{some}", {}),
    ]:
        response = await client.request(method, path, json=body, headers=_h())
        assert response.status_code == 404, (method, path)
    body = (await client.get(f"/channels/{some}/things", headers=_h())).json()
    assert body == {"total": 0, "offset": 0, "limit": 10, "things": []}


async def test_service_routes_and_unknown_paths(client: httpx.AsyncClient) -> None:
    response = await client.get("/version")
    assert response.json() == {"service": "things", "version": "0.11.0"}
    assert (await client.get("/metrics")).status_code == 200
    response = await client.get("/nowhere")
    assert response.status_code == 404 and response.text.startswith("404 page not found")


# bounds on what one request may ask for


def _deep(depth: int) -> str:
    """A metadata object whose nesting is ``depth`` levels, as raw JSON."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


async def _still_serves(client: httpx.AsyncClient) -> None:
    assert (await client.get("/things", headers=_h())).status_code == 200


@pytest.mark.parametrize("kind", ["things", "channels"])
async def test_bulk_creates_are_capped_per_request(client: httpx.AsyncClient, kind: str) -> None:
    response = await client.post(f"/{kind}/bulk", json=[{}] * 101, headers=_h())
    assert response.status_code == 400
    assert response.json()["error"] == f"at most 100 {kind} per request"
    response = await client.post(f"/{kind}/bulk", json=[{}] * 100, headers=_h())
    assert response.status_code == 201 and len(response.json()[kind]) == 100


@pytest.mark.parametrize("field", ["channel_ids", "thing_ids"])
async def test_connect_lists_are_capped_per_request(client: httpx.AsyncClient, field: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(101)]
    body = {"channel_ids": [ids[0]], "thing_ids": [ids[0]], field: ids}
    response = await client.post("/connect", json=body, headers=_h())
    assert response.status_code == 400
    assert response.json()["error"] == f"at most 100 {field} per request"
    await _still_serves(client)


async def test_the_bulk_cap_is_configurable(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MF_THINGS_MAX_BULK", "3")
    engine = create_engine(sqlite_url)
    service = await build_service(engine, TwoUsers(), None, InMemoryAccessCache())
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as client:
        response = await client.post("/things/bulk", json=[{}] * 4, headers=_h())
        assert response.json()["error"] == "at most 3 things per request"
        connect = {"channel_ids": ["a"] * 4, "thing_ids": ["b"]}
        response = await client.post("/connect", json=connect, headers=_h())
        assert response.json()["error"] == "at most 3 channel_ids per request"
        assert (await client.post("/things/bulk", json=[{}] * 3, headers=_h())).status_code == 201
    await engine.dispose()


DEEP_BODIES = [
    ("POST", "/things", '{"metadata":%s}'),
    ("POST", "/channels", '{"metadata":%s}'),
    ("POST", "/things/bulk", '[{"name":"ok"},{"metadata":%s}]'),
    ("POST", "/channels/bulk", '[{"metadata":%s}]'),
    ("PUT", "/things/{thing}", '{"name":"n","metadata":%s}'),
    ("PUT", "/channels/{channel}", '{"name":"n","metadata":%s}'),
]


@pytest.mark.parametrize("depth", [33, 900], ids=["just over", "near the parser's own limit"])
@pytest.mark.parametrize(
    ("method", "path", "template"), DEEP_BODIES, ids=[f"{m} {p}" for m, p, _ in DEEP_BODIES]
)
async def test_deep_metadata_is_400_never_500(
    client: httpx.AsyncClient, method: str, path: str, template: str, depth: int
) -> None:
    thing = await _create(client, "things", {"name": "t"})
    channel = await _create(client, "channels", {"name": "c"})
    url = path.format(thing=thing, channel=channel)
    response = await client.request(method, url, content=template % _deep(depth), headers=_h())
    assert response.status_code == 400
    assert response.json()["error"] == "metadata nests deeper than 32 levels"
    await _still_serves(client)


async def test_metadata_at_the_depth_bound_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", content=f'{{"metadata":{_deep(32)}}}', headers=_h())
    assert response.status_code == 201
    view = (await client.get(response.headers["location"], headers=_h())).json()
    assert view["metadata"] == orjson.loads(_deep(32))
    listed = await client.get("/things", params={"metadata": _deep(32)}, headers=_h())
    assert listed.status_code == 200 and listed.json()["total"] == 1


async def test_a_body_over_the_bound_is_413_json(client: httpx.AsyncClient) -> None:
    body = b'[{"name":"' + b"n" * (1 << 20) + b'"}]'
    response = await client.post("/things/bulk", content=body, headers=_h())
    assert response.status_code == 413
    assert response.json()["error"] == "request body larger than 1048576 bytes"
    await _still_serves(client)
