"""scripts/run.sh (``make rundev``) starts every service of the microservice deployment,
creates the databases they use, and sets only variables some service reads.

Running the script needs the machine's own PostgreSQL, Redis and NATS on their standard
ports, which tests leave alone: what it starts is checked here against the services'
own settings, and a run by hand is described in README.md."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

from mainflux.cli.main import SERVICES
from mainflux.core.settings import variables

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (ROOT / "scripts/run.sh").read_text()
#: The web console is started on its own (`mainflux-ui`), not by rundev.
NOT_STARTED = {"ui"}


def _declared() -> dict[str, str]:
    """Every variable the services read, with its default as `--help` shows it."""
    found: dict[str, str] = {}
    for module_name in SERVICES.values():
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                for name, default, _help in variables(value):
                    found.setdefault(name, default)
    return found


def _started() -> set[str]:
    return set(re.findall(r"^start ([\w-]+)$", SCRIPT, re.MULTILINE))


def test_every_service_but_the_console_is_started() -> None:
    assert _started() == set(SERVICES) - NOT_STARTED


def test_the_banner_names_each_started_port() -> None:
    declared = _declared()
    for name in ("MF_BOOTSTRAP_PORT", "MF_PROVISION_HTTP_PORT", "MF_USERS_HTTP_PORT"):
        assert f"http://localhost:{declared[name]}" in SCRIPT, name


def test_every_exported_variable_is_read_by_a_service() -> None:
    exported = set(re.findall(r"^export (MF_\w+)", SCRIPT, re.MULTILINE))
    assert {"MF_SDK_BASE_URL", "MF_BOOTSTRAP_ES_URL", "MF_PROVISION_BS_SVC_URL"} <= exported
    # MF_LOG_LEVEL: every service's fallback when its own MF_<SERVICE>_LOG_LEVEL is unset.
    unknown = exported - set(_declared()) - {"MF_LOG_LEVEL"}
    assert not unknown, f"run.sh sets variables no service reads: {sorted(unknown)}"


def test_every_service_database_is_created() -> None:
    databases = set(re.search(r"^for db in ([\w ]+); do", SCRIPT, re.MULTILINE)[1].split())
    wanted = {
        default for name, default in _declared().items() if re.fullmatch(r"MF_\w+_DB", name)
    } - {"0"}  # Redis database numbers share the suffix
    assert wanted, "no service declares a PostgreSQL database"
    assert wanted <= databases
