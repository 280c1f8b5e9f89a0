"""The container images, built and run as a user would: ``scripts/docker-test.sh``.

One long case: it builds every image (no registry needed), runs the all-in-one on a named
volume and the twelve service images end to end, and removes all it made. It is marked
``slow`` so that it starts first and overlaps the rest of the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_images_build_and_run_the_platform() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "docker-test.sh")],
        env={**os.environ, "PYTHON": sys.executable},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    report = f"{done.stdout}\n{done.stderr}"
    assert done.returncode == 0, report[-6000:]
    assert "docker-test: passed in" in done.stdout, report[-6000:]
    for step in (
        "all-in-one: recreated on its volume, the token, thing and message are still there",
        "cleandocker kept the volume, cleandocker pv=true removed it",
        "microservices: HTTP, MQTT and CoAP messages stored by the writer and served by the reader",
        "microservices: every service stopped cleanly on SIGTERM",
    ):
        assert f"docker-test: {step}" in done.stdout, report[-6000:]
