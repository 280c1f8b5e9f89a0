"""``POST /mapping`` over real things and bootstrap services (on their own ports): what a
gateway gets, every bad input, and a rollback with an error status on each failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mainflux.provision.api import create_app
from mainflux.provision.client import HttpPlatform
from mainflux.provision.models import Template
from mainflux.provision.service import ProvisionService
from mainflux.provision.template import default_template, load_template
from tests.bootstrap_platform import ALICE, Platform, platform
from tests.servers import free_port

JSON = {"Content-Type": "application/json"}
GATEWAY = {"external_id": "gw-1", "external_key": "gw-key", "name": "gw"}


@pytest.fixture
async def p(sqlite_url: str) -> AsyncIterator[Platform]:
    async with platform(sqlite_url, serve_bootstrap=True) as running:
        yield running


@asynccontextmanager
async def provision(
    p: Platform,
    template: Template | None = None,
    *,
    things_url: str = "",
    bootstrap_url: str = "",
    **credentials: str,
) -> AsyncIterator[httpx.AsyncClient]:
    nowhere = f"http://127.0.0.1:{free_port()}"
    remote = HttpPlatform(nowhere, things_url or p.things_url, bootstrap_url or p.bootstrap_url)
    service = ProvisionService(remote, template or default_template(), **credentials)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://provision") as client:
        yield client
    await remote.close()


async def _totals(p: Platform) -> tuple[int, int, int]:
    h = {"Authorization": ALICE}
    things = (await p.things.get("/things", headers=h)).json()["total"]
    channels = (await p.things.get("/channels", headers=h)).json()["total"]
    configs = (await p.bootstrap.get("/things/configs", headers=h)).json()["total"]
    return things, channels, configs


async def test_a_mapping_creates_the_whole_gateway(p: Platform) -> None:
    async with provision(p) as client:
        response = await client.post(
            "/mapping", json=GATEWAY, headers={"Authorization": ALICE, **JSON}
        )
    assert response.status_code == 201, response.text
    body = response.json()
    (thing,) = body["things"]
    control, data = body["channels"]
    assert (control["name"], control["metadata"]) == ("control-channel", {"type": "control"})
    assert (data["name"], data["metadata"]) == ("data-channel", {"type": "data"})
    assert thing["name"] == "gw" and thing["key"]
    assert thing["metadata"] == {
        "external_id": "gw-1",
        "type": "gateway",
        "cfg_id": thing["id"],
        "ctrl_channel_id": control["id"],
        "data_channel_id": data["id"],
    }
    assert body["whitelisted"] == {thing["id"]: True}
    h = {"Authorization": ALICE}
    stored = (await p.things.get(f"/things/{thing['id']}", headers=h)).json()
    assert stored["metadata"] == thing["metadata"]
    config = (await p.bootstrap.get(f"/things/configs/{thing['id']}", headers=h)).json()
    assert (config["external_id"], config["external_key"], config["state"]) == ("gw-1", "gw-key", 1)
    connected = (await p.things.get(f"/things/{thing['id']}/channels", headers=h)).json()
    assert sorted(c["id"] for c in connected["channels"]) == sorted([control["id"], data["id"]])


async def test_a_template_file_drives_the_mapping(p: Platform, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        """
[bootstrap]
autowhite_list = false
content = "cfg"

[[things]]
name = "gateway"
metadata = { external_id = "x", model = "m1" }

[[things]]
name = "sensor"

[[channels]]
name = "exports"
metadata = { type = "export" }
"""
    )
    async with provision(p, load_template(path)) as client:
        response = await client.post(
            "/mapping",
            json={"external_id": "e", "external_key": "k"},
            headers={"Authorization": ALICE, **JSON},
        )
    assert response.status_code == 201, response.text
    gateway, sensor = response.json()["things"]
    assert gateway["name"] == "gateway" and sensor["name"] == "sensor"
    assert gateway["metadata"]["export_channel_id"] == response.json()["channels"][0]["id"]
    assert gateway["metadata"]["model"] == "m1" and sensor["metadata"] == {}
    assert response.json()["whitelisted"] == {}
    config = (
        await p.bootstrap.get(f"/things/configs/{gateway['id']}", headers={"Authorization": ALICE})
    ).json()
    assert (config["content"], config["state"]) == ("cfg", 0)
    assert await _totals(p) == (2, 1, 1)


BAD = [
    ({"external_key": "k"}, JSON, 400, "missing external id"),
    ({"external_id": "e"}, JSON, 400, "missing external key"),
    ({"external_id": 1, "external_key": "k"}, JSON, 400, "external id not a string"),
    ({"external_id": "e", "external_key": "k", "name": ["n"]}, JSON, 400, "name not a string"),
    ({"external_id": "e" * 1025, "external_key": "k"}, JSON, 400, "external id too long"),
    (GATEWAY, {"Content-Type": "application/json; charset=utf-8"}, 415, "content type not exact"),
    (GATEWAY, {}, 415, "no content type"),
    (GATEWAY, {"Content-Type": "text/plain"}, 415, "text"),
]


@pytest.mark.parametrize(("body", "headers", "status", "case"), BAD, ids=[c for *_, c in BAD])
async def test_a_bad_request_is_refused_and_creates_nothing(
    p: Platform, body: dict[str, Any], headers: dict[str, str], status: int, case: str
) -> None:
    async with provision(p) as client:
        response = await client.post(
            "/mapping", content=orjson.dumps(body), headers={"Authorization": ALICE, **headers}
        )
    assert response.status_code == status, case
    assert await _totals(p) == (0, 0, 0), case


async def test_malformed_json_is_400(p: Platform) -> None:
    async with provision(p) as client:
        response = await client.post(
            "/mapping", content=b"{nope", headers={"Authorization": ALICE, **JSON}
        )
    assert response.status_code == 400 and "error" in response.json()


async def test_a_taken_external_id_is_409_and_everything_is_rolled_back(p: Platform) -> None:
    h = {"Authorization": ALICE, **JSON}
    async with provision(p) as client:
        assert (await client.post("/mapping", json=GATEWAY, headers=h)).status_code == 201
        before = await _totals(p)
        response = await client.post("/mapping", json=GATEWAY, headers=h)
    assert response.status_code == 409
    assert response.json() == {"error": "entity already exists"}
    assert await _totals(p) == before


async def test_bootstrap_unreachable_is_503_and_things_are_rolled_back(p: Platform) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/things"
    async with provision(p, bootstrap_url=nowhere) as client:
        response = await client.post(
            "/mapping", json=GATEWAY, headers={"Authorization": ALICE, **JSON}
        )
    assert response.status_code == 503 and "error" in response.json()
    assert await _totals(p) == (0, 0, 0)


async def test_things_unreachable_is_503(p: Platform) -> None:
    async with provision(p, things_url=f"http://127.0.0.1:{free_port()}") as client:
        response = await client.post(
            "/mapping", json=GATEWAY, headers={"Authorization": ALICE, **JSON}
        )
    assert response.status_code == 503
    assert await _totals(p) == (0, 0, 0)


async def test_without_a_token_the_api_key_is_used_else_a_login_else_403(p: Platform) -> None:
    async with provision(p, api_key=ALICE) as client:
        assert (await client.post("/mapping", json=GATEWAY, headers=JSON)).status_code == 201
    async with provision(p, user="nobody@example.com", password="12345678") as client:
        response = await client.post("/mapping", json={**GATEWAY, "external_id": "2"}, headers=JSON)
    assert response.status_code == 503, "users cannot be reached for the login"
    async with provision(p) as client:
        response = await client.post("/mapping", json={**GATEWAY, "external_id": "3"}, headers=JSON)
    assert response.status_code == 403
    async with provision(p) as client:
        response = await client.post(
            "/mapping",
            json={**GATEWAY, "external_id": "4"},
            headers={"Authorization": "bad", **JSON},
        )
    assert response.status_code == 403
    assert await _totals(p) == (1, 2, 1)
