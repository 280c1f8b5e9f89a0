"""The same SDK code against the microservices: authn, users, things and the HTTP
adapter as separate processes on PostgreSQL, Redis and NATS, each at its own URL."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from sqlalchemy.engine import make_url

from mainflux.sdk import Client, Config, Conflict, NotFound, Unauthorized
from tests.integration.test_authn_main import clean_env
from tests.servers import free_port, postgres_database, wait_for_port


def _db(prefix: str, url: str) -> dict[str, str]:
    parsed = make_url(url)
    return {
        f"{prefix}_DB_HOST": parsed.host or "localhost",
        f"{prefix}_DB_PORT": str(parsed.port or 5432),
        f"{prefix}_DB_USER": parsed.username or "",
        f"{prefix}_DB_PASS": parsed.password or "",
        f"{prefix}_DB": parsed.database or "",
    }


def _start(module: str, environ: dict[str, str], *ports: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from {module} import main; main()"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for port in ports:
            wait_for_port(port, timeout=30)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"{module}: {proc.communicate(timeout=10)[1]}") from None
    return proc


@pytest.fixture
def services(nats_url: str, redis_url: str) -> Iterator[Config]:
    """authn, users, things and http as processes; a Config with each service's URL."""
    ports = {name: free_port() for name in ("authn", "grpc", "users", "things", "tauth", "tgrpc")}
    ports["http"] = free_port()
    redis_address = redis_url.removeprefix("redis://").split("/")[0]
    with ExitStack() as stack:
        authn_db = stack.enter_context(postgres_database())
        users_db = stack.enter_context(postgres_database())
        things_db = stack.enter_context(postgres_database())
        procs: list[subprocess.Popen[str]] = []
        try:
            procs.append(
                _start(
                    "mainflux.authn.main",
                    clean_env(
                        MF_AUTHN_HTTP_PORT=str(ports["authn"]),
                        MF_AUTHN_GRPC_PORT=str(ports["grpc"]),
                        **_db("MF_AUTHN", authn_db),
                    ),
                    ports["authn"],
                    ports["grpc"],
                )
            )
            authn_grpc = f"127.0.0.1:{ports['grpc']}"
            procs.append(
                _start(
                    "mainflux.users.main",
                    clean_env(
                        MF_USERS_HTTP_PORT=str(ports["users"]),
                        MF_AUTHN_GRPC_URL=authn_grpc,
                        **_db("MF_USERS", users_db),
                    ),
                    ports["users"],
                )
            )
            procs.append(
                _start(
                    "mainflux.things.main",
                    clean_env(
                        MF_THINGS_HTTP_PORT=str(ports["things"]),
                        MF_THINGS_AUTH_HTTP_PORT=str(ports["tauth"]),
                        MF_THINGS_AUTH_GRPC_PORT=str(ports["tgrpc"]),
                        MF_THINGS_CACHE_URL=redis_address,
                        MF_THINGS_ES_URL=redis_address,
                        MF_AUTHN_GRPC_URL=authn_grpc,
                        **_db("MF_THINGS", things_db),
                    ),
                    ports["things"],
                    ports["tgrpc"],
                )
            )
            procs.append(
                _start(
                    "mainflux.adapters.http.main",
                    clean_env(
                        MF_HTTP_ADAPTER_HOST="127.0.0.1",
                        MF_HTTP_ADAPTER_PORT=str(ports["http"]),
                        MF_NATS_URL=nats_url,
                        MF_THINGS_AUTH_GRPC_URL=f"127.0.0.1:{ports['tgrpc']}",
                    ),
                    ports["http"],
                )
            )

            def at(name: str) -> str:
                return f"http://127.0.0.1:{ports[name]}"

            yield Config(
                "http://unused.invalid",
                users_url=at("users"),
                authn_url=at("authn"),
                things_url=at("things"),
                http_url=at("http"),
            )
        finally:
            for proc in procs:
                proc.kill()
                proc.communicate(timeout=10)


def test_the_sdk_drives_the_microservices_at_their_own_urls(services: Config) -> None:
    with Client(services) as mf:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        mf.create_user(email, "12345678")
        with pytest.raises(Conflict):
            mf.create_user(email, "12345678")
        token = mf.create_token(email, "12345678")
        api_key = mf.create_key(token, duration=600)
        assert mf.user(api_key.value).email == email
        thing_id = mf.create_thing(api_key.value, name="sensor")
        made = mf.create_channels(token, [{"name": "a"}, {"name": "b"}])
        mf.connect(token, [c.id for c in made], [thing_id])
        assert {c.id for c in mf.iter_channels_by_thing(token, thing_id)} == {c.id for c in made}
        key = mf.thing(token, thing_id).key or ""
        mf.send_message(key, made[0].id, '[{"n":"temp","v":1}]', subtopic="room")
        with pytest.raises(Unauthorized):
            mf.send_message("wrong", made[0].id, "[]")
        assert mf.version("things").service == "things"
        assert mf.version("users").service == "users"
        assert mf.version("http").service == "http"
        assert mf.platform_info() is None  # only the all-in-one says where MQTT is
        mf.revoke_key(token, api_key.id or "")
        with pytest.raises(Unauthorized):
            mf.things(api_key.value)
        mf.delete_thing(token, thing_id)
        with pytest.raises(NotFound):
            mf.thing(token, thing_id)
