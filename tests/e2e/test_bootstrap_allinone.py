"""A device's life through ``mainflux run``: config added, plain and secure bootstrap,
whitelisting visible in things, a message sent with the bootstrapped key, the thing
removed in things and the config gone, every step on ``mainflux.bootstrap``; the sync
goes on after a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from mainflux.bootstrap import crypto
from tests.e2e.conftest import Platform
from tests.servers import wait_until

JSON = {"Content-Type": "application/json"}
KEY = bytes.fromhex("12345678910111213141516171819202")


def _token(client: httpx.Client) -> str:
    user = {"email": "dev@example.com", "password": "12345678"}
    assert client.post("/users", json=user).status_code == 201
    return str(client.post("/tokens", json=user).json()["token"])


def _events(platform: Platform) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    command = [sys.executable, "-m", "mainflux.cli", "events", "mainflux.bootstrap"]
    done = subprocess.run(
        [*command, "--data-dir", str(platform.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _config_gone(client: httpx.Client, thing_id: str, h: dict[str, str]) -> bool:
    return client.get(f"/things/configs/{thing_id}", headers=h).status_code == 404


def test_a_devices_life(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        h = {"Authorization": _token(client), **JSON}
        made = client.post("/channels", json={"name": "telemetry"}, headers=h)
        channel = made.headers["location"].rsplit("/", 1)[1]
        body = {"external_id": "aa:bb:cc", "external_key": "secret", "channels": [channel]}
        added = client.post("/things/configs", json=body, headers=h)
        assert added.status_code == 201, added.text
        thing = added.headers["location"].rsplit("/", 1)[1]

        plain = client.get("/things/bootstrap/aa:bb:cc", headers={"Authorization": "secret"})
        assert plain.status_code == 200
        device = plain.json()
        assert device["mainflux_id"] == thing
        assert device["mainflux_channels"] == [{"id": channel, "name": "telemetry"}]
        # No MF_BOOTSTRAP_ENCRYPT_KEY: the platform generated a private key of its own.
        key_file = platform.data_dir / "bootstrap.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key = crypto.parse_key(key_file.read_text().strip())
        assert key != KEY
        header = crypto.encrypt(KEY, b"secret").hex()
        refused = client.get("/things/bootstrap/secure/aa:bb:cc", headers={"Authorization": header})
        assert refused.status_code == 404, "Mainflux's published key opens nothing"
        header = crypto.encrypt(key, b"secret").hex()
        secure = client.get("/things/bootstrap/secure/aa:bb:cc", headers={"Authorization": header})
        assert orjson.loads(crypto.decrypt(key, secure.content)) == device

        publish = f"/http/channels/{channel}/messages"
        sent = client.post(
            publish, content=b'[{"n":"t","v":1}]', headers={"Authorization": device["mainflux_key"]}
        )
        assert sent.status_code == 403, "not whitelisted yet"
        assert client.put(f"/things/state/{thing}", json={"state": 1}, headers=h).status_code == 200
        connected = client.get(f"/channels/{channel}/things", headers=h).json()["things"]
        assert [t["id"] for t in connected] == [thing]
        sent = client.post(
            publish, content=b'[{"n":"t","v":1}]', headers={"Authorization": device["mainflux_key"]}
        )
        assert sent.status_code == 202

        assert client.delete(f"/things/{thing}", headers=h).status_code == 204
        wait_until(lambda: _config_gone(client, thing, h), "the config followed its thing")

    operations = [line.split("operation='")[1].split("'")[0] for line in _events(platform)]
    assert operations == [
        "config.create",
        "thing.bootstrap",  # plain
        "thing.bootstrap",  # secure, with the published key: refused
        "thing.bootstrap",  # secure, with the platform's key
        "thing.state_change",
    ]


def test_the_sync_goes_on_after_a_restart(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        h = {"Authorization": _token(client), **JSON}
        ids = []
        for external in ("first", "second"):
            added = client.post(
                "/things/configs", json={"external_id": external, "external_key": "k"}, headers=h
            )
            ids.append(added.headers["location"].rsplit("/", 1)[1])
        assert client.delete(f"/things/{ids[0]}", headers=h).status_code == 204
        wait_until(lambda: _config_gone(client, ids[0], h), "the first config followed")
    assert platform.stop() == 0, platform.output[-4000:]
    platform.start()
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        login = {"email": "dev@example.com", "password": "12345678"}
        h = {"Authorization": client.post("/tokens", json=login).json()["token"], **JSON}
        assert client.get(f"/things/configs/{ids[1]}", headers=h).status_code == 200
        assert client.delete(f"/things/{ids[1]}", headers=h).status_code == 204
        wait_until(lambda: _config_gone(client, ids[1], h), "the second config followed")


def test_one_mapping_onboards_a_gateway(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        h = {"Authorization": _token(client), **JSON}
        body = {"external_id": "gw-1", "external_key": "gw-key", "name": "gw"}
        response = client.post("/mapping", json=body, headers=h)
        assert response.status_code == 201, response.text
        (thing,) = response.json()["things"]
        assert thing["metadata"]["type"] == "gateway"
        assert response.json()["whitelisted"] == {thing["id"]: True}
        device = client.get("/things/bootstrap/gw-1", headers={"Authorization": "gw-key"}).json()
        assert device["mainflux_key"] == thing["key"]
        assert len(device["mainflux_channels"]) == 2
        # the fallback login (MF_PROVISION_USER) is not a user here: 403, nothing made
        refused = client.post("/mapping", json={**body, "external_id": "gw-2"}, headers=JSON)
        assert refused.status_code == 403
        assert client.post("/mapping", json=body, headers=h).status_code == 409
        assert client.get("/things", headers=h).json()["total"] == 1


def test_a_bad_encrypt_key_stops_startup_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env.update(MF_DATA_DIR=str(tmp_path), MF_BOOTSTRAP_ENCRYPT_KEY="zz")
    done = subprocess.run(
        [sys.executable, "-m", "mainflux.cli", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "MF_BOOTSTRAP_ENCRYPT_KEY" in done.stderr and "Traceback" not in done.stderr
