"""Service processes never print a URL's password: not in a start-up error, not in a log
line (the runner's logging set-up installs the redacting filter)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.integration.test_authn_main import clean_env
from tests.servers import free_port

PASSWORD = "pw-" + uuid.uuid4().hex


def _run(code: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("module", "settings", "named"),
    [
        (
            "mainflux.adapters.mqtt.main",
            {
                "MF_NATS_URL": f"nats://user:{PASSWORD}@127.0.0.1:{free_port()}",
                "MF_MQTT_ADAPTER_MQTT_PORT": str(free_port()),
                "MF_MQTT_ADAPTER_WS_PORT": str(free_port()),
            },
            "MF_NATS_URL",
        ),
        (
            "mainflux.adapters.http.main",
            {
                "MF_NATS_URL": f"nats://{PASSWORD}@127.0.0.1:{free_port()}",
                "MF_HTTP_ADAPTER_PORT": str(free_port()),
            },
            "MF_NATS_URL",
        ),
        (
            "mainflux.things.main",
            {
                "MF_THINGS_CACHE_URL": f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0",
                "MF_THINGS_HTTP_PORT": str(free_port()),
                "MF_THINGS_AUTH_HTTP_PORT": str(free_port()),
            },
            "MF_THINGS_CACHE_URL",
        ),
        (
            "mainflux.authn.main",
            {
                "MF_AUTHN_DB_PORT": str(free_port()),
                "MF_AUTHN_DB_PASS": PASSWORD,
                "MF_AUTHN_HTTP_PORT": str(free_port()),
                "MF_AUTHN_GRPC_PORT": str(free_port()),
            },
            "MF_AUTHN_DB_HOST",
        ),
    ],
    ids=["mqtt-nats", "http-nats-token", "things-redis", "authn-postgres"],
)
def test_an_unreachable_server_with_a_password_is_named_without_it(
    module: str, settings: dict[str, str], named: str
) -> None:
    done = _run(f"from {module} import main; main()", clean_env(**settings))
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert PASSWORD not in output, output
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"mainflux: {named}: "), output


def test_the_runner_redacts_every_log_line() -> None:
    code = (
        "import logging; from mainflux.core.runner import setup_logging; setup_logging(); "
        f"logging.getLogger('some.library').warning('reconnecting to %s', "
        f"'redis://:{PASSWORD}@cache:6379/0')"
    )
    done = _run(code, {k: v for k, v in os.environ.items() if not k.startswith("MF_")})
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stderr
    assert "reconnecting to redis://:***@cache:6379/0" in done.stderr
