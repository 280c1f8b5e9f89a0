"""docker/docker-compose.yml against the services it runs: the compose tool accepts it
(with its override), every variable it gives a service is one the service reads and
parses, every published port is one the service listens on, and nginx routes to the
ports the services listen on."""

from __future__ import annotations

import functools
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mainflux.core.settings import load, variables

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
NATS_DEBUGGING = DOCKER / "docker-compose.nats-debugging.yml"

#: Compose service -> the settings class of the command its image runs.
SETTINGS: dict[str, str] = {
    "users": "mainflux.users.main:Settings",
    "authn": "mainflux.authn.main:Settings",
    "things": "mainflux.things.main:Settings",
    "http": "mainflux.adapters.http.settings:Settings",
    "ws": "mainflux.adapters.ws.settings:Settings",
    "mqtt": "mainflux.adapters.mqtt.settings:CommandSettings",
    "postgres-writer": "mainflux.writers.main:Settings",
    "postgres-reader": "mainflux.readers.main:Settings",
    "coap": "mainflux.adapters.coap.settings:Settings",
    "bootstrap": "mainflux.bootstrap.settings:Settings",
    "provision": "mainflux.provision.settings:ProvisionSettings",
    "ui": "mainflux.console.settings:Settings",
}

#: Settings that must not ship with a value (`make rundocker` generates them), and a
#: value of the kind it generates.
GENERATED: dict[str, tuple[str, str]] = {
    "authn": ("MF_AUTHN_SECRET", "x" * 32),
    "bootstrap": ("MF_BOOTSTRAP_ENCRYPT_KEY", "0123456789abcdef" * 2),
}


def _settings_class(service: str) -> type[Any]:
    module, _, name = SETTINGS[service].partition(":")
    cls: type[Any] = getattr(importlib.import_module(module), name)
    return cls


@functools.cache
def _compose_config(*files: Path) -> dict[str, Any]:
    """What the compose tool makes of ``files``: ``podman-compose config`` (``--dry-run``:
    no container engine needed), with .env's values filled in; once per set of files."""
    args = [sys.executable, "-m", "podman_compose", "--dry-run"]
    for file in files:
        args += ["-f", str(file)]
    # .env's values, not the caller's MF_* variables (a shell's MF_RELEASE_TAG would win).
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    done = subprocess.run(
        [*args, "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return _compose_config(COMPOSE)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _listening_ports(service: str, env: dict[str, str]) -> set[int]:
    """The ports the service listens on with ``env``: its ``*_PORT`` settings that are
    not a database's or another service's."""
    ports = set()
    for name, default, _ in variables(_settings_class(service)):
        if name.endswith("_PORT") and "_DB_" not in name and "EMAIL" not in name:
            ports.add(int(env.get(name) or default))
    return ports


def _published(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host, container) port pairs of a service's ``ports``."""
    pairs = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
        else:
            *_, host, container = str(entry).split(":")
            pairs.append((int(host), int(container.split("/")[0])))
    return pairs


def test_the_compose_tool_accepts_the_file_and_every_service_is_there(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    assert set(SETTINGS) <= set(services), "a Mainflux service is missing"
    for name in SETTINGS:
        assert services[name]["image"] == f"mainflux/{name}:latest", name


@pytest.mark.parametrize(
    "override", sorted(DOCKER.glob("docker-compose.*.yml")), ids=lambda path: path.name
)
def test_every_override_merges_into_a_file_the_compose_tool_accepts(override: Path) -> None:
    services = _compose_config(COMPOSE, override)["services"]
    for name in SETTINGS:
        env = _environment(services[name])
        declared = {variable for variable, _, _ in variables(_settings_class(name))}
        assert set(env) - declared == set(), f"{override.name}: {name} does not read these"


def test_the_nats_debugging_override_keeps_jetstream_and_turns_on_tracing() -> None:
    nats = _compose_config(COMPOSE, NATS_DEBUGGING)["services"]["nats"]
    assert "--jetstream" in nats["command"]
    assert {"--debug", "--trace"} <= set(nats["command"])


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_variable_is_read_by_the_service_and_parses(
    config: dict[str, Any], service: str
) -> None:
    env = _environment(config["services"][service])
    declared = {name for name, _, _ in variables(_settings_class(service))}
    assert set(env) - declared == set(), f"{service} does not read these"
    if service in GENERATED:
        name, generated = GENERATED[service]
        assert env[name] == "", f"{name}: a secret must not ship in docker/.env"
        env[name] = generated
    load(_settings_class(service), env)  # raises ConfigError naming a bad value


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_published_ports_are_ports_the_service_listens_on(
    config: dict[str, Any], service: str
) -> None:
    definition = config["services"][service]
    listening = _listening_ports(service, _environment(definition))
    published = _published(definition)
    assert published, f"{service} publishes no port"
    for host, container in published:
        assert container in listening, f"{service}: {container} is not one of {listening}"
        assert host == container, f"{service}: published as {host}, listens on {container}"


def test_nginx_routes_to_the_ports_the_services_listen_on(config: dict[str, Any]) -> None:
    routes = re.findall(
        r"proxy_pass http://([\w-]+):(\d+)", (DOCKER / "nginx" / "nginx.conf").read_text()
    )
    assert routes
    for service, port in routes:
        env = _environment(config["services"][service])
        assert int(port) in _listening_ports(service, env), f"nginx -> {service}:{port}"


def test_every_env_file_variable_is_used_and_every_used_one_is_set() -> None:
    text = COMPOSE.read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assigned = {}
    for line in (DOCKER / ".env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            assigned[name] = value
    assert used - set(assigned) == set(), "used in docker-compose.yml, missing from .env"
    # MF_DOCKER_REPO and MF_RELEASE_TAG name the images; every other one reaches a service.
    assert set(assigned) - used == set(), "set in .env, used nowhere"
    assert all(name.startswith("MF_") for name in assigned)


def test_data_lives_in_named_volumes(config: dict[str, Any]) -> None:
    named = set(config["volumes"])
    stores = ("authn-db", "users-db", "things-db", "postgres-writer-db", "bootstrap-db", "nats")
    for name in stores:
        mounts = config["services"][name]["volumes"]
        sources = {str(m).split(":")[0] if not isinstance(m, dict) else m["source"] for m in mounts}
        assert sources & named, f"{name} keeps its data in no named volume"


def test_coap_is_published_on_udp_and_its_http_face_on_tcp(config: dict[str, Any]) -> None:
    protocols = set()
    for entry in config["services"]["coap"]["ports"]:
        if isinstance(entry, dict):
            protocols.add((int(entry["target"]), entry.get("protocol", "tcp")))
        else:
            target, _, protocol = str(entry).rsplit(":", 1)[-1].partition("/")
            protocols.add((int(target), protocol or "tcp"))
    assert protocols == {(5683, "udp"), (5683, "tcp")}
