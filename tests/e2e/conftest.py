"""A real all-in-one platform process (``mainflux run``) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import free_port, wait_for_port


@dataclass
class Platform:
    """A ``mainflux run`` process started the way a user starts it."""

    data_dir: Path
    gateway_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    coap_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    output: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
        env.update(
            MF_DATA_DIR=str(self.data_dir),
            MF_GATEWAY_PORT=str(self.gateway_port),
            MF_MQTT_ADAPTER_MQTT_PORT=str(self.mqtt_port),
            MF_COAP_ADAPTER_PORT=str(self.coap_port),
            MF_GATEWAY_HOST="127.0.0.1",
            **self.extra_env,
        )
        return env

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mainflux.cli", "run"],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_port(self.gateway_port, timeout=30)
            wait_for_port(self.mqtt_port, timeout=10)
        except TimeoutError:
            self.stop()
            pytest.fail(f"mainflux run did not start:\n{self.output}")

    def stop(self) -> int:
        """Ctrl-C the process; return its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.output += out
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """``kill -9`` the process: it gets no chance to clean up."""
        assert self.proc is not None
        self.proc.kill()
        out, _ = self.proc.communicate(timeout=30)  # also closes the output pipe
        self.output += out
        self.proc = None


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    """A running all-in-one platform with its own data directory and ports."""
    running = Platform(tmp_path / "data")
    running.start()
    yield running
    if running.proc is not None:
        running.stop()


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One running all-in-one platform for every test of a module (each test makes its
    own user, so tests stay independent)."""
    running = Platform(tmp_path_factory.mktemp("platform") / "data")
    running.start()
    yield running
    if running.proc is not None:
        running.stop()
