"""``mainflux-provision`` as a process: ``--help``, and an unusable setting or template
stops start-up with one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_authn_main import clean_env
from tests.servers import free_port

START = [sys.executable, "-m", "mainflux.provision.main"]


def test_help_lists_every_variable() -> None:
    done = subprocess.run(
        [*START, "--help"], env=clean_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: mainflux-provision [--help]")
    for name, default in [
        ("MF_PROVISION_HTTP_PORT", "8091"),
        ("MF_PROVISION_BS_SVC_URL", "http://localhost:8202/things"),
        ("MF_PROVISION_BS_AUTO_WHITELIST", "true"),
        ("MF_PROVISION_USER", "test@example.com"),
    ]:
        line = next(line for line in done.stdout.splitlines() if f" {name} " in line)
        assert default in line, name


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"MF_PROVISION_HTTP_PORT": "x"}, "MF_PROVISION_HTTP_PORT"),
        ({"MF_PROVISION_BS_SVC_URL": "localhost:8202"}, "MF_PROVISION_BS_SVC_URL"),
        ({"MF_PROVISION_X509_PROVISIONING": "true"}, "MF_PROVISION_X509_PROVISIONING"),
        ({"MF_PROVISION_BS_CONFIG_PROVISIONING": "false"}, "MF_PROVISION_BS_AUTO_WHITELIST"),
        ({"MF_PROVISION_CONFIG_FILE": "/nonexistent/config.toml"}, "MF_PROVISION_CONFIG_FILE"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(settings: dict[str, str], named: str) -> None:
    env = clean_env(**{"MF_PROVISION_HTTP_PORT": str(free_port()), **settings})
    done = subprocess.run(START, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], done.stderr


def test_a_template_that_names_no_things_stops_start_up(tmp_path: Path) -> None:
    template = tmp_path / "config.toml"
    template.write_text('[[channels]]\nname = "c"\n')
    env = clean_env(MF_PROVISION_HTTP_PORT=str(free_port()), MF_PROVISION_CONFIG_FILE=str(template))
    done = subprocess.run(START, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "names no things" in done.stderr and "Traceback" not in done.stderr
