"""Every console script of ``pyproject.toml`` answers ``--help`` with its usage and exit 0,
started as the script would be and as ``python -m <module>`` (how tests and operators
start a service without installing it)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
SERVICES = sorted(name for name, target in SCRIPTS.items() if target.endswith(":main"))


def _help(command: list[str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    return subprocess.run(
        [*command, "--help"], env=environ, capture_output=True, text=True, timeout=60
    )


def test_every_service_is_a_script() -> None:
    """``mainflux-<service>`` for each service ``mainflux serve`` runs, and no other."""
    from mainflux.cli.main import SERVICES as SERVED

    assert {name.removeprefix("mainflux-") for name in SERVICES} == set(SERVED), SCRIPTS
    assert "mainflux" in SCRIPTS


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_script_prints_its_usage_and_exits_0(script: str) -> None:
    module, function = SCRIPTS[script].split(":")
    start = f"import sys; sys.argv[0] = {script!r}; from {module} import {function}; {function}()"
    done = _help([sys.executable, "-c", start])
    assert done.returncode == 0, done.stderr
    first = next(line for line in done.stdout.splitlines() if line.strip())
    assert first.strip().lower().startswith(f"usage: {script} "), done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize("script", SERVICES)
def test_python_m_of_the_service_module_prints_its_usage(script: str) -> None:
    module = SCRIPTS[script].split(":")[0]
    done = _help([sys.executable, "-m", module])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {script} "), done.stdout
    assert "Environment variables:" in done.stdout
