"""The container scripts refuse what they cannot use, in one line, before doing anything:
an unknown engine, an unknown image name; Podman gets the host's hard limits; and
``make rundocker`` generates its secrets once, into private files."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

from mainflux.bootstrap.crypto import parse_key

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


def _rundocker(tmp_path: Path, **env: str) -> dict[str, str]:
    """``make rundocker`` (scripts/docker-run.sh, copied into ``tmp_path`` so that its
    build/docker/ is the test's) with a compose tool that records what it is given."""
    (tmp_path / "scripts").mkdir(exist_ok=True)
    for script in ("docker-run.sh", "container-engine.sh"):
        (tmp_path / "scripts" / script).write_bytes((ROOT / "scripts" / script).read_bytes())
        (tmp_path / "scripts" / script).chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / "compose.env"
    stub = bin_dir / "podman-compose"
    stub.write_text(
        "#!/bin/sh\n"
        f'{{ echo "ARGS=$*"; echo "MF_AUTHN_SECRET=$MF_AUTHN_SECRET"; '
        f'echo "MF_BOOTSTRAP_ENCRYPT_KEY=$MF_BOOTSTRAP_ENCRYPT_KEY"; }} >"{record}"\n'
    )
    stub.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    done = subprocess.run(
        [str(tmp_path / "scripts" / "docker-run.sh")],
        env={
            **base,
            "PATH": f"{bin_dir}:{base['PATH']}",
            "MF_ENGINE": "podman",
            "MF_CONTAINERS_CONF": str(tmp_path / "containers.conf"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in record.read_text().splitlines())


def test_rundocker_generates_the_secrets_once_into_private_files(tmp_path: Path) -> None:
    first = _rundocker(tmp_path)
    assert first["ARGS"] == "-f docker/docker-compose.yml up -d"
    secret, key = tmp_path / "build/docker/authn.secret", tmp_path / "build/docker/bootstrap.key"
    for path in (secret, key):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert first["MF_AUTHN_SECRET"] == secret.read_text() and len(secret.read_text()) >= 32
    assert first["MF_BOOTSTRAP_ENCRYPT_KEY"] == key.read_text()
    assert len(parse_key(key.read_text())) == 16  # AES-128, 32 hex digits
    assert _rundocker(tmp_path) == first, "a second run must reuse the secrets"


def test_rundocker_passes_an_exported_bootstrap_key_on_and_writes_none(tmp_path: Path) -> None:
    mine = "ab" * 32
    got = _rundocker(tmp_path, MF_BOOTSTRAP_ENCRYPT_KEY=mine)
    assert got["MF_BOOTSTRAP_ENCRYPT_KEY"] == mine
    assert not (tmp_path / "build/docker/bootstrap.key").exists()
