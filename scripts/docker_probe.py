"""Drives a running platform over its HTTP APIs for scripts/docker-test.sh.

    docker_probe.py wait URL...                       each URL answers 200 (/health)
    docker_probe.py provision USERS THINGS            a user, a thing, a channel, connected:
                                                      prints token, thing id, key, channel id
    docker_probe.py publish HTTP CHANNEL KEY VALUE    a SenML message to the HTTP adapter
    docker_probe.py read READER CHANNEL KEY VALUE     waits until the reader serves VALUE
    docker_probe.py thing THINGS TOKEN THING KEY      the thing is still there, key unchanged
    docker_probe.py bootstrap BOOTSTRAP TOKEN THING KEY CHANNEL NAME
                                                      a config for the thing, fetched by the
                                                      device (external id NAME), activated
    docker_probe.py mapping PROVISION BOOTSTRAP TOKEN NAME
                                                      a gateway provisioned from the default
                                                      template, which then bootstraps
    docker_probe.py page URL                          URL answers 200 with an HTML page

USERS, THINGS, HTTP, READER, BOOTSTRAP and PROVISION are base URLs: the same gateway URL
for the all-in-one (with ``/http`` for HTTP), each service's own for microservices.
Exits 1 with one line saying what failed."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable

import httpx

TIMEOUT = 60.0  # seconds: containers start on a loaded two-core machine


def _fail(message: str) -> None:
    print(f"docker_probe: {message}", file=sys.stderr)
    raise SystemExit(1)


def _until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            _fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def _created(response: httpx.Response, what: str) -> str:
    if response.status_code != 201:
        _fail(f"creating {what}: {response.status_code} {response.text}")
    return response.headers["location"].rstrip("/").rsplit("/", 1)[-1]


def wait(*urls: str) -> None:
    for url in urls:
        _until(lambda url=url: httpx.get(url, timeout=5).status_code == 200, url)


def provision(users: str, things: str) -> None:
    email = f"docker-{uuid.uuid4().hex[:12]}@example.com"
    credentials = {"email": email, "password": "docker-test-secret"}
    with httpx.Client(timeout=10) as client:
        reply = client.post(f"{users}/users", json=credentials)
        if reply.status_code != 201:
            _fail(f"creating the user: {reply.status_code} {reply.text}")
        reply = client.post(f"{users}/tokens", json=credentials)
        if reply.status_code != 201:
            _fail(f"login: {reply.status_code} {reply.text}")
        token = reply.json()["token"]
        auth = {"Authorization": token}
        thing = _created(client.post(f"{things}/things", json={"name": "s"}, headers=auth), "thing")
        key = client.get(f"{things}/things/{thing}", headers=auth).json()["key"]
        channel = _created(
            client.post(f"{things}/channels", json={"name": "c"}, headers=auth), "the channel"
        )
        body = {"channel_ids": [channel], "thing_ids": [thing]}
        reply = client.post(f"{things}/connect", json=body, headers=auth)
        if reply.status_code not in (200, 201):
            _fail(f"connecting: {reply.status_code} {reply.text}")
    print(token, thing, key, channel)


def publish(http: str, channel: str, key: str, value: str) -> None:
    message = [{"bn": "docker-test:", "n": "temperature", "u": "C", "v": float(value)}]
    reply = httpx.post(
        f"{http}/channels/{channel}/messages",
        json=message,
        headers={"Authorization": key, "Content-Type": "application/senml+json"},
        timeout=10,
    )
    if reply.status_code != 202:
        _fail(f"publishing: {reply.status_code} {reply.text}")


def read(reader: str, channel: str, key: str, value: str) -> None:
    url = f"{reader}/channels/{channel}/messages?limit=100"

    def stored() -> bool:
        reply = httpx.get(url, headers={"Authorization": key}, timeout=10)
        if reply.status_code != 200:
            return False
        return float(value) in [m.get("value") for m in reply.json().get("messages", [])]

    _until(stored, f"{value} in {url}")


def thing(things: str, token: str, thing_id: str, key: str) -> None:
    reply = httpx.get(f"{things}/things/{thing_id}", headers={"Authorization": token}, timeout=10)
    if reply.status_code != 200 or reply.json().get("key") != key:
        _fail(f"thing {thing_id}: {reply.status_code} {reply.text}")


def bootstrap(url: str, token: str, thing_id: str, key: str, channel: str, name: str) -> None:
    auth = {"Authorization": token}
    external_key = uuid.uuid4().hex
    config = {
        "thing_id": thing_id,
        "external_id": name,
        "external_key": external_key,
        "channels": [channel],
        "name": name,
        "content": '{"interval": 5}',
    }
    with httpx.Client(base_url=url, timeout=10) as client:
        _created(client.post("/things/configs", json=config, headers=auth), "the config")
        reply = client.get(f"/things/bootstrap/{name}", headers={"Authorization": "wrong"})
        if reply.status_code != 404:
            _fail(f"bootstrap with a wrong key: {reply.status_code} {reply.text}")
        reply = client.get(f"/things/bootstrap/{name}", headers={"Authorization": external_key})
        if reply.status_code != 200:
            _fail(f"bootstrap: {reply.status_code} {reply.text}")
        got = reply.json()
        channels = [c.get("id") for c in got.get("mainflux_channels", [])]
        expected = (thing_id, key, [channel])
        if (got.get("mainflux_id"), got.get("mainflux_key"), channels) != expected:
            _fail(f"bootstrap answered {got}")
        reply = client.put(f"/things/state/{thing_id}", json={"state": 1}, headers=auth)
        if reply.status_code != 200:
            _fail(f"activating: {reply.status_code} {reply.text}")
        reply = client.get(f"/things/configs/{thing_id}", headers=auth)
        if reply.status_code != 200 or reply.json().get("state") != 1:
            _fail(f"the config after activating: {reply.status_code} {reply.text}")


def mapping(provision: str, bootstrap_url: str, token: str, name: str) -> None:
    external_key = uuid.uuid4().hex
    body = {"external_id": name, "external_key": external_key, "name": name}
    reply = httpx.post(
        f"{provision}/mapping", json=body, headers={"Authorization": token}, timeout=30
    )
    if reply.status_code != 201:
        _fail(f"provisioning: {reply.status_code} {reply.text}")
    made = reply.json()
    things = {t["id"] for t in made.get("things", [])}
    whitelisted = made.get("whitelisted")  # {thing id: true} for each gateway thing
    if not things or not made.get("channels") or not whitelisted:
        _fail(f"provisioning answered {made}")
    if set(whitelisted) != things or not all(v is True for v in whitelisted.values()):
        _fail(f"provisioning answered {made}")
    reply = httpx.get(
        f"{bootstrap_url}/things/bootstrap/{name}",
        headers={"Authorization": external_key},
        timeout=10,
    )
    if reply.status_code != 200 or reply.json().get("mainflux_id") not in things:
        _fail(f"bootstrap of the provisioned gateway: {reply.status_code} {reply.text}")


def page(url: str) -> None:
    reply = httpx.get(url, headers={"Accept": "text/html"}, follow_redirects=True, timeout=10)
    if reply.status_code != 200 or not reply.headers.get("content-type", "").startswith(
        "text/html"
    ):
        _fail(f"{url}: {reply.status_code} {reply.headers.get('content-type')}")


COMMANDS: dict[str, Callable[..., None]] = {
    "wait": wait,
    "provision": provision,
    "publish": publish,
    "read": read,
    "thing": thing,
    "bootstrap": bootstrap,
    "mapping": mapping,
    "page": page,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        _fail(f"usage: {sys.argv[0]} {{{','.join(COMMANDS)}}} ARGS...")
    COMMANDS[sys.argv[1]](*sys.argv[2:])
