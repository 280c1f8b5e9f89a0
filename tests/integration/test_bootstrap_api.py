"""The bootstrap HTTP API over a real things service: every route, status and bad input
(on SQLite; the tests marked "both engines" run on PostgreSQL too)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from mainflux.bootstrap import crypto
from tests.bootstrap_platform import ALICE, BOB, KEY, Platform, platform
from tests.servers import free_port

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def p(sqlite_url: str) -> AsyncIterator[Platform]:
    async with platform(sqlite_url) as running:
        yield running


@pytest.fixture
async def both(db_url: str) -> AsyncIterator[Platform]:
    """Both engines."""
    async with platform(db_url) as running:
        yield running


def _h(token: str = ALICE) -> dict[str, str]:
    return {"Authorization": token, **JSON}


async def _channel(p: Platform, name: str = "c", token: str = ALICE, **metadata: Any) -> str:
    body: dict[str, Any] = {"name": name}
    if metadata:
        body["metadata"] = metadata
    response = await p.things.post("/channels", json=body, headers=_h(token))
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[1]


async def _add(p: Platform, token: str = ALICE, **body: Any) -> str:
    config = {"external_id": "aa:bb", "external_key": "k", **body}
    response = await p.bootstrap.post("/things/configs", json=config, headers=_h(token))
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.startswith("/things/configs/")
    return location.rsplit("/", 1)[1]


async def _thing_count(p: Platform) -> int:
    response = await p.things.get("/things", headers=_h())
    return int(response.json()["total"])


async def _connected(p: Platform, thing_id: str) -> list[str]:
    response = await p.things.get(f"/things/{thing_id}/channels", headers=_h())
    assert response.status_code == 200, response.text
    return sorted(c["id"] for c in response.json()["channels"])


async def _events(p: Platform) -> list[dict[str, str]]:
    return [fields for _, fields in await p.events.read("mainflux.bootstrap", count=1000)]


async def test_add_creates_the_thing_and_view_shows_the_config(p: Platform) -> None:
    c = await _channel(p, "c1", kind="data")
    thing_id = await _add(p, channels=[c], name="dev", content='{"a":1}')
    response = await p.bootstrap.get(f"/things/configs/{thing_id}", headers=_h())
    assert response.status_code == 200
    thing = (await p.things.get(f"/things/{thing_id}", headers=_h())).json()
    assert thing["name"] == "dev"
    assert response.json() == {
        "mainflux_id": thing_id,
        "mainflux_key": thing["key"],
        "mainflux_channels": [{"id": c, "name": "c1", "metadata": {"kind": "data"}}],
        "external_id": "aa:bb",
        "external_key": "k",
        "content": '{"a":1}',
        "name": "dev",
        "state": 0,
    }


async def test_add_binds_an_existing_thing(p: Platform) -> None:
    created = await p.things.post("/things", json={"name": "t"}, headers=_h())
    thing_id = created.headers["location"].rsplit("/", 1)[1]
    assert await _add(p, thing_id=thing_id) == thing_id
    assert await _thing_count(p) == 1


BAD_ADDS = [
    ({"external_key": "k"}, 400, "missing external id"),
    ({"external_id": "x"}, 400, "missing external key"),
    ({"external_id": "", "external_key": "k"}, 400, "empty external id"),
    ({"external_id": "x", "external_key": 5}, 400, "key not a string"),
    ({"external_id": "x" * 1025, "external_key": "k"}, 400, "external id too long"),
    ({"external_id": "x", "external_key": "k", "channels": "c"}, 400, "channels not a list"),
    ({"external_id": "x", "external_key": "k", "channels": [1]}, 400, "channel not a string"),
    ({"external_id": "x", "external_key": "k", "channels": [str(uuid.uuid4())]}, 400, "unknown"),
    ({"external_id": "x", "external_key": "k", "channels": ["nope"]}, 400, "channel not a uuid"),
    ({"external_id": "x", "external_key": "k", "thing_id": str(uuid.uuid4())}, 404, "no thing"),
    ({"external_id": "x", "external_key": "k", "thing_id": "nope"}, 404, "thing not a uuid"),
    ({"external_id": "x", "external_key": "k", "name": "n" * 1025}, 400, "name too long"),
]


@pytest.mark.parametrize(("body", "status", "case"), BAD_ADDS, ids=[c for _, _, c in BAD_ADDS])
async def test_a_bad_config_is_refused_and_creates_nothing(
    p: Platform, body: dict[str, Any], status: int, case: str
) -> None:
    response = await p.bootstrap.post("/things/configs", json=body, headers=_h())
    assert response.status_code == status, case
    assert "error" in response.json()
    assert await _thing_count(p) == 0, case
    assert (await p.bootstrap.get("/things/configs", headers=_h())).json()["total"] == 0


async def test_too_many_channels_is_400(p: Platform) -> None:
    channels = [str(uuid.uuid4()) for _ in range(101)]
    body = {"external_id": "x", "external_key": "k", "channels": channels}
    response = await p.bootstrap.post("/things/configs", json=body, headers=_h())
    assert response.status_code == 400 and "at most 100" in response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({"Authorization": ALICE}, b'{"external_id":"x","external_key":"k"}', 415),
        (_h(), b"{not json", 400),
        (_h(), b"[1,2]", 400),
        (_h("bad-token"), b'{"external_id":"x","external_key":"k"}', 403),
        (JSON, b'{"external_id":"x","external_key":"k"}', 403),
    ],
    ids=["no content type", "not json", "not an object", "bad token", "no token"],
)
async def test_a_bad_request_is_refused(
    p: Platform, headers: dict[str, str], content: bytes, status: int
) -> None:
    response = await p.bootstrap.post("/things/configs", content=content, headers=headers)
    assert response.status_code == status
    assert await _thing_count(p) == 0


async def test_a_duplicate_external_id_is_409_and_the_new_thing_is_removed(
    both: Platform,
) -> None:
    p = both
    await _add(p)
    response = await p.bootstrap.post(
        "/things/configs", json={"external_id": "aa:bb", "external_key": "x"}, headers=_h()
    )
    assert response.status_code == 409
    assert await _thing_count(p) == 1


async def test_a_thing_bound_twice_is_409(p: Platform) -> None:
    thing_id = await _add(p)
    body = {"external_id": "other", "external_key": "k", "thing_id": thing_id}
    response = await p.bootstrap.post("/things/configs", json=body, headers=_h())
    assert response.status_code == 409
    assert await _thing_count(p) == 1


async def test_someone_elses_config_is_not_found(p: Platform) -> None:
    thing_id = await _add(p)
    assert (
        await p.bootstrap.get(f"/things/configs/{thing_id}", headers=_h(BOB))
    ).status_code == 404
    response = await p.bootstrap.put(
        f"/things/state/{thing_id}", json={"state": 1}, headers=_h(BOB)
    )
    assert response.status_code == 404


async def test_bootstrap_returns_what_the_device_needs(p: Platform) -> None:
    c = await _channel(p, "c1")
    thing_id = await _add(p, channels=[c], content="cfg", client_cert="cert", ca_cert="ca")
    key = (await p.things.get(f"/things/{thing_id}", headers=_h())).json()["key"]
    response = await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "k"})
    assert response.status_code == 200
    assert response.json() == {
        "mainflux_id": thing_id,
        "mainflux_key": key,
        "mainflux_channels": [{"id": c, "name": "c1"}],
        "content": "cfg",
        "client_cert": "cert",
        "ca_cert": "ca",
    }
    view = (await p.bootstrap.get(f"/things/configs/{thing_id}", headers=_h())).json()
    assert "client_cert" not in view and "ca_cert" not in view


async def test_wrong_key_and_unknown_id_are_404_and_listed_as_unknown(both: Platform) -> None:
    p = both
    await _add(p)
    wrong = await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "bad"})
    unknown = await p.bootstrap.get("/things/bootstrap/zz", headers={"Authorization": "k2"})
    assert (wrong.status_code, unknown.status_code) == (404, 404)
    again = await p.bootstrap.get("/things/bootstrap/zz", headers={"Authorization": "k3"})
    assert again.status_code == 404
    listed = await p.bootstrap.get("/things/unknown/configs", headers=_h(BOB))
    assert listed.status_code == 200
    assert listed.json()["configs"] == [
        {"external_id": "aa:bb", "external_key": "bad"},
        {"external_id": "zz", "external_key": "k2"},
    ]
    # adding the config clears its unknown attempt
    await _add(p, external_id="zz")
    listed = await p.bootstrap.get("/things/unknown/configs", headers=_h())
    assert [u["external_id"] for u in listed.json()["configs"]] == ["aa:bb"]


async def test_bootstrap_without_a_key_is_403(p: Platform) -> None:
    await _add(p)
    assert (await p.bootstrap.get("/things/bootstrap/aa:bb")).status_code == 403


async def test_secure_bootstrap_answers_the_encrypted_config(p: Platform) -> None:
    c = await _channel(p)
    await _add(p, channels=[c], content="cfg")
    header = crypto.encrypt(KEY, b"k").hex()
    response = await p.bootstrap.get(
        "/things/bootstrap/secure/aa:bb", headers={"Authorization": header}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    plain = await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "k"})
    assert orjson.loads(crypto.decrypt(KEY, response.content)) == plain.json()
    assert (
        response.content[:16]
        != (
            await p.bootstrap.get(
                "/things/bootstrap/secure/aa:bb", headers={"Authorization": header}
            )
        ).content[:16]
    ), "a fresh IV each time"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("not hex at all", 404),
        ("abc", 404),
        ("00" * 8, 400),
        ("", 403),
        (crypto.encrypt(KEY, b"wrong").hex(), 404),
        (crypto.encrypt(bytes(16), b"k").hex(), 404),
        (crypto.encrypt(KEY, b"\xff\xfe").hex(), 404),
    ],
    ids=[
        "not hex",
        "odd hex",
        "shorter than the iv",
        "empty",
        "wrong key",
        "other aes key",
        "not utf-8",
    ],
)
async def test_a_bad_secure_header_is_never_500(p: Platform, header: str, status: int) -> None:
    await _add(p)
    response = await p.bootstrap.get(
        "/things/bootstrap/secure/aa:bb", headers={"Authorization": header}
    )
    assert response.status_code == status
    assert (
        await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "k"})
    ).status_code == 200


async def test_state_connects_and_disconnects_in_things(p: Platform) -> None:
    c1, c2 = await _channel(p, "a"), await _channel(p, "b")
    thing_id = await _add(p, channels=[c1, c2])
    response = await p.bootstrap.put(f"/things/state/{thing_id}", json={"state": 1}, headers=_h())
    assert response.status_code == 200 and response.content == b""
    assert await _connected(p, thing_id) == sorted([c1, c2])
    view = (await p.bootstrap.get(f"/things/configs/{thing_id}", headers=_h())).json()
    assert view["state"] == 1
    response = await p.bootstrap.put(f"/things/state/{thing_id}", json={"state": 0}, headers=_h())
    assert response.status_code == 200
    assert await _connected(p, thing_id) == []


@pytest.mark.parametrize(
    "body",
    [{"state": 2}, {"state": -1}, {"state": "1"}, {"state": True}, {"state": 1.5}, {}],
    ids=["2", "-1", "string", "bool", "float", "missing"],
)
async def test_a_state_other_than_0_or_1_is_400(p: Platform, body: dict[str, Any]) -> None:
    thing_id = await _add(p)
    response = await p.bootstrap.put(f"/things/state/{thing_id}", json=body, headers=_h())
    assert response.status_code == 400


async def test_connections_of_an_active_config_follow_in_things(p: Platform) -> None:
    c1, c2, c3 = await _channel(p, "a"), await _channel(p, "b"), await _channel(p, "c")
    thing_id = await _add(p, channels=[c1, c2])
    await p.bootstrap.put(f"/things/state/{thing_id}", json={"state": 1}, headers=_h())
    response = await p.bootstrap.put(
        f"/things/configs/connections/{thing_id}", json={"channels": [c2, c3]}, headers=_h()
    )
    assert response.status_code == 200
    assert await _connected(p, thing_id) == sorted([c2, c3])
    view = (await p.bootstrap.get(f"/things/configs/{thing_id}", headers=_h())).json()
    assert [c["id"] for c in view["mainflux_channels"]] == [c2, c3]
    unknown = str(uuid.uuid4())
    response = await p.bootstrap.put(
        f"/things/configs/connections/{thing_id}", json={"channels": [unknown]}, headers=_h()
    )
    assert response.status_code == 400
    assert await _connected(p, thing_id) == sorted([c2, c3])


async def test_connections_of_an_inactive_config_leave_things_alone(p: Platform) -> None:
    c1 = await _channel(p)
    thing_id = await _add(p)
    response = await p.bootstrap.put(
        f"/things/configs/connections/{thing_id}", json={"channels": [c1]}, headers=_h()
    )
    assert response.status_code == 200
    assert await _connected(p, thing_id) == []


async def test_update_certs_and_remove(p: Platform) -> None:
    thing_id = await _add(p)
    response = await p.bootstrap.put(
        f"/things/configs/{thing_id}", json={"name": "n2", "content": "c2"}, headers=_h()
    )
    assert response.status_code == 200
    certs = {"client_cert": "cc", "client_key": "ck", "ca_cert": "ca"}
    response = await p.bootstrap.patch(
        f"/things/configs/certs/{thing_id}", json=certs, headers=_h()
    )
    assert response.status_code == 200
    got = (await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "k"})).json()
    assert {k: got[k] for k in certs} == certs and got["content"] == "c2"
    response = await p.bootstrap.delete(f"/things/configs/{thing_id}", headers=_h())
    assert response.status_code == 204
    assert (await p.bootstrap.get(f"/things/configs/{thing_id}", headers=_h())).status_code == 404
    assert (
        await p.bootstrap.delete(f"/things/configs/{thing_id}", headers=_h())
    ).status_code == 204
    missing = str(uuid.uuid4())
    response = await p.bootstrap.put(f"/things/configs/{missing}", json={"name": "n"}, headers=_h())
    assert response.status_code == 404


async def test_list_filters_and_pages(both: Platform) -> None:
    p = both
    ids = [await _add(p, external_id=f"e{i}", name=f"Dev-{i}") for i in range(3)]
    await p.bootstrap.put(f"/things/state/{ids[1]}", json={"state": 1}, headers=_h())
    key = (await p.bootstrap.get(f"/things/configs/{ids[2]}", headers=_h())).json()["mainflux_key"]

    async def listed(query: str) -> list[str]:
        response = await p.bootstrap.get(f"/things/configs?{query}", headers=_h())
        assert response.status_code == 200, query
        return sorted(c["mainflux_id"] for c in response.json()["configs"])

    assert await listed("") == sorted(ids)
    assert await listed("name=dev-1") == [ids[1]]
    assert await listed("state=1") == [ids[1]]
    assert await listed("state=0") == sorted([ids[0], ids[2]])
    assert await listed("external_id=e0") == [ids[0]]
    assert await listed(f"mainflux_id={ids[2]}") == [ids[2]]
    assert await listed(f"mainflux_key={key}") == [ids[2]]
    page = (await p.bootstrap.get("/things/configs?limit=2&offset=1", headers=_h())).json()
    assert (page["total"], page["offset"], page["limit"], len(page["configs"])) == (3, 1, 2, 2)
    assert "mainflux_channels" not in page["configs"][0]
    assert (await p.bootstrap.get("/things/configs", headers=_h(BOB))).json()["total"] == 0


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "offset=-1", "limit=x", "state=2", "state=on", "limit=1&limit=2"],
)
async def test_a_bad_list_query_is_400(p: Platform, query: str) -> None:
    response = await p.bootstrap.get(f"/things/configs?{query}", headers=_h())
    assert response.status_code == 400
    response = await p.bootstrap.get(f"/things/unknown/configs?{query}", headers=_h())
    assert response.status_code == (400 if "state" not in query else 200)


async def test_every_operation_appends_the_seeds_fields(both: Platform) -> None:
    p = both
    c1, c2 = await _channel(p, "a"), await _channel(p, "b")
    thing_id = await _add(p, channels=[c1, c2], name="dev", content="x")
    await p.bootstrap.put(
        f"/things/configs/{thing_id}", json={"name": "n", "content": "y"}, headers=_h()
    )
    await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "k"})
    await p.bootstrap.get("/things/bootstrap/aa:bb", headers={"Authorization": "bad"})
    await p.bootstrap.put(f"/things/state/{thing_id}", json={"state": 1}, headers=_h())
    await p.bootstrap.put(
        f"/things/configs/connections/{thing_id}", json={"channels": [c2]}, headers=_h()
    )
    await p.bootstrap.patch(f"/things/configs/certs/{thing_id}", json={}, headers=_h())
    await p.bootstrap.delete(f"/things/configs/{thing_id}", headers=_h())
    events = await _events(p)
    for event in events:
        assert event.pop("timestamp").isdigit()
    assert events == [
        {
            "operation": "config.create",
            "thing_id": thing_id,
            "owner": "alice@example.com",
            "name": "dev",
            "channels": f"{c1}, {c2}",
            "externalID": "aa:bb",
            "content": "x",
        },
        {"operation": "config.update", "thing_id": thing_id, "name": "n", "content": "y"},
        {"operation": "thing.bootstrap", "externalID": "aa:bb", "success": "1"},
        {"operation": "thing.bootstrap", "externalID": "aa:bb", "success": "0"},
        {"operation": "thing.state_change", "thing_id": thing_id, "state": "1"},
        {"operation": "thing.update_connections", "thing_id": thing_id, "channels": c2},
        {"operation": "config.remove", "thing_id": thing_id},
    ]


async def test_a_refused_operation_appends_nothing(p: Platform) -> None:
    await p.bootstrap.post("/things/configs", json={"external_id": "x"}, headers=_h())
    await p.bootstrap.put(f"/things/state/{uuid.uuid4()}", json={"state": 1}, headers=_h())
    assert await _events(p) == []


async def test_things_unreachable_is_503_and_nothing_is_half_done(sqlite_url: str) -> None:
    async with platform(sqlite_url, things_url=f"http://127.0.0.1:{free_port()}") as p:
        response = await p.bootstrap.post(
            "/things/configs", json={"external_id": "x", "external_key": "k"}, headers=_h()
        )
        assert response.status_code == 503
        assert (await p.bootstrap.get("/things/configs", headers=_h())).json()["total"] == 0
        assert await _events(p) == []
