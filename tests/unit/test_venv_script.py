"""scripts/venv.sh installs per mode, each once: `run` the runtime, `dev` adds the dev extra.

pip is replaced by a recorder in a throw-away project (the real installs are measured on
a fresh clone, see docs/benchmarks.md); the script, its stamps and its reading of
pyproject.toml are the real ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PYPROJECT = """\
[project]
name = "demo"
version = "1"
dependencies = ["starlette>=0.40"]

[project.optional-dependencies]
dev = ["pytest>=8", "ruff>=0.5"]
"""

# Runs Python code given on stdin with the real interpreter; records every pip call.
FAKE_PYTHON = f"""#!/bin/sh
if [ "$1" = "-" ]; then exec {sys.executable} "$@"; fi
echo "$*" >> "$(dirname "$0")/../pip.log"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "venv.sh", tmp_path / "scripts" / "venv.sh")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("mainflux", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def venv(project: Path, *args: str) -> list[str]:
    """Run the script; return the pip calls it made."""
    log = project / ".venv" / "pip.log"
    log.unlink(missing_ok=True)
    subprocess.run(
        ["bash", str(project / "scripts" / "venv.sh"), *args],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    return log.read_text().splitlines() if log.exists() else []


def edit_pyproject(project: Path) -> None:
    """Make pyproject.toml newer than every stamp, as an edit would."""
    earlier = (project / "pyproject.toml").stat().st_mtime - 10
    for stamp in (project / ".venv").glob(".installed-*"):
        os.utime(stamp, (earlier, earlier))


def test_run_installs_the_package_alone_once(project: Path) -> None:
    pip = "-m pip --disable-pip-version-check install --quiet"
    assert venv(project, "run") == [f"{pip} -e ."]
    assert venv(project, "run") == []


def test_dev_after_run_adds_only_the_dev_extra(project: Path) -> None:
    venv(project, "run")
    pip = "-m pip --disable-pip-version-check install --quiet"
    assert venv(project, "dev") == [f"{pip} -r .venv/dev-requirements.txt"]
    requirements = (project / ".venv" / "dev-requirements.txt").read_text().split()
    assert requirements == ["pytest>=8", "ruff>=0.5"]
    assert venv(project, "dev") == []


def test_run_after_dev_installs_nothing(project: Path) -> None:
    assert len(venv(project, "dev")) == 2
    assert venv(project, "run") == []


def test_an_edited_pyproject_installs_again(project: Path) -> None:
    venv(project, "dev")
    edit_pyproject(project)
    assert len(venv(project, "run")) == 1
    assert len(venv(project, "dev")) == 1


def test_an_unknown_mode_is_refused(project: Path) -> None:
    result = subprocess.run(
        ["bash", str(project / "scripts" / "venv.sh"), "everything"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"usage: {project}/scripts/venv.sh [run|dev]"
