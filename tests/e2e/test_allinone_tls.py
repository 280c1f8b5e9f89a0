"""``mainflux run`` serving its gateway over HTTPS (``MF_GATEWAY_SERVER_CERT``/``_KEY``)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import _run_briefly
from tests.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def https_platform(tmp_path: Path, pki: Pki) -> Iterator[Platform]:
    running = Platform(
        tmp_path / "data",
        extra_env={
            "MF_GATEWAY_SERVER_CERT": str(pki.server_cert),
            "MF_GATEWAY_SERVER_KEY": str(pki.server_key),
        },
    )
    running.start()
    yield running
    if running.proc is not None:
        running.stop()


def test_the_gateway_speaks_https(https_platform: Platform, pki: Pki) -> None:
    trust = ssl.create_default_context(cafile=str(pki.ca))
    url = f"https://127.0.0.1:{https_platform.gateway_port}"
    with httpx.Client(base_url=url, verify=trust) as client:
        assert client.get("/version").json()["service"] == "things"
        creds = {"email": "tls@example.com", "password": "12345678"}
        assert client.post("/users", json=creds).status_code == 201
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{https_platform.gateway_port}/version", timeout=5)


def test_a_certificate_without_its_key_stops_startup(tmp_path: Path, pki: Pki) -> None:
    result = _run_briefly(
        {"MF_DATA_DIR": str(tmp_path), "MF_GATEWAY_SERVER_CERT": str(pki.server_cert)}
    )
    assert result.returncode == 2
    assert "MF_GATEWAY_SERVER_KEY" in result.stderr
    assert "Traceback" not in result.stderr
