"""The container scripts refuse what they cannot use, in one line, before doing anything:
an unknown engine, an unknown image name; and Podman gets the host's hard limits."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unknown_engine_is_refused_in_one_line() -> None:
    done = _run("container-engine.sh", MF_ENGINE="lxc")
    assert done.returncode == 2
    assert done.stderr.strip() == "MF_ENGINE: expected docker or podman, got lxc"


def test_podman_gets_the_host_hard_limits(tmp_path: Path) -> None:
    conf = tmp_path / "containers.conf"
    done = _run("container-engine.sh", MF_ENGINE="podman", MF_CONTAINERS_CONF=str(conf))
    assert done.returncode == 0, done.stderr
    assert "ENGINE=podman" in done.stdout.splitlines()
    assert f"export CONTAINERS_CONF='{conf}'" in done.stdout.splitlines()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = 1048576 if hard == resource.RLIM_INFINITY else min(hard, 1048576)
    assert f'"nofile={nofile}:{nofile}"' in conf.read_text()


def test_an_unknown_image_name_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    done = _run(
        "docker-build.sh",
        "users",
        "nosuch",
        MF_ENGINE="podman",
        MF_CONTAINERS_CONF=str(tmp_path / "containers.conf"),
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("unknown image: nosuch")
    assert "building" not in done.stdout


def test_building_nothing_is_a_usage_error(tmp_path: Path) -> None:
    done = _run("docker-build.sh", MF_ENGINE="podman", MF_CONTAINERS_CONF=str(tmp_path / "c.conf"))
    assert done.returncode == 2
    assert "usage:" in done.stderr
