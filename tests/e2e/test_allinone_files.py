"""``mainflux run`` and its data directory: private modes, one process at a time, a
signing secret that is never short, and no URL password in anything it prints."""

from __future__ import annotations

import base64
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import _run_briefly
from tests.servers import _binary, free_port, wait_for_port

PASSWORD = "pw-" + uuid.uuid4().hex


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _everything_under(directory: Path) -> list[Path]:
    return [directory, *sorted(directory.rglob("*"))]


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a refused start prints (exit code 2, no traceback)."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def _sign_up_and_ask_for_a_reset(platform: Platform) -> None:
    """Create a user, then have a reset mail written into the outbox."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        created = client.post("/users", json={"email": email, "password": "12345678"})
        assert created.status_code == 201, created.text
        reset = client.post(
            "/password/reset-request",
            json={"email": email},
            headers={"Referer": "http://ui.example.com"},
        )
        assert reset.status_code == 201, reset.text


def _wait_for_mail(mail_dir: Path, timeout: float = 10.0) -> None:
    """Return once the outbox holds a mail (it is written just after the answer)."""
    deadline = time.monotonic() + timeout
    while not list(mail_dir.glob("*.eml")):
        assert time.monotonic() < deadline, "the reset mail was not written"
        time.sleep(0.02)


def _umask(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return line.split()[1]
    raise AssertionError("no Umask line in /proc/<pid>/status")


def test_every_file_in_the_data_directory_is_the_owners_only(platform: Platform) -> None:
    _sign_up_and_ask_for_a_reset(platform)
    data = platform.data_dir
    assert platform.proc is not None
    assert _umask(platform.proc.pid) == "0077"
    names = {p.name for p in data.iterdir()}
    assert {"mainflux.db", "mainflux.db-wal", "mainflux.db-shm", "authn.secret"} <= names
    assert {"mainflux.lock", "mail"} <= names
    _wait_for_mail(data / "mail")
    for path in _everything_under(data):
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, f"{path}: {oct(_mode(path))}"

    secret = (data / "authn.secret").read_text().strip()
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) >= 32


def test_modes_left_open_by_an_older_run_are_repaired_with_a_notice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "mail").mkdir(parents=True)
    (data / "mail" / "old.eml").write_text("a recovery link")
    (data / "authn.secret").write_text("s" * 43)
    for path, mode in [
        (data, 0o755),
        (data / "mail", 0o775),
        (data / "mail" / "old.eml", 0o644),
        (data / "authn.secret", 0o644),
    ]:
        path.chmod(mode)
    platform = Platform(data)
    platform.start()
    try:
        for path in _everything_under(data):
            assert _mode(path) & 0o077 == 0, f"{path}: {oct(_mode(path))}"
    finally:
        assert platform.stop() == 0, platform.output[-4000:]
    notices = [line for line in platform.output.splitlines() if "0700" in line]
    assert len(notices) == 1, platform.output
    assert "MF_DATA_DIR" in notices[0] and "4 path(s)" in notices[0]


def test_a_second_run_on_the_same_data_directory_refuses_to_start(platform: Platform) -> None:
    second = _run_briefly(
        {
            "MF_DATA_DIR": str(platform.data_dir),
            "MF_GATEWAY_PORT": str(free_port()),
            "MF_MQTT_ADAPTER_MQTT_PORT": str(free_port()),
            "MF_GATEWAY_HOST": "127.0.0.1",
        }
    )
    line = _one_line(second)
    assert line.startswith("mainflux: MF_DATA_DIR: "), line
    assert "in use by another mainflux run" in line
    assert platform.proc is not None and f"pid {platform.proc.pid}" in line
    assert httpx.get(f"{platform.url}/version", timeout=10).status_code == 200


def test_a_killed_run_does_not_block_the_next_one(platform: Platform) -> None:
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        body = {"email": "kept@example.com", "password": "12345678"}
        assert client.post("/users", json=body).status_code == 201
    platform.kill()  # no clean-up: the lock file stays behind
    assert (platform.data_dir / "mainflux.lock").exists()

    platform.start()
    with httpx.Client(base_url=platform.url, timeout=10) as client:
        assert client.post("/tokens", json=body).status_code == 201


@pytest.mark.parametrize(
    ("content", "reason"),
    [("", "empty"), ("authn\n", "too short (5 bytes)"), ("x" * 31, "too short (31 bytes)")],
    ids=["empty", "five-bytes", "31-bytes"],
)
def test_a_short_secret_file_stops_start_up_naming_it(
    tmp_path: Path, content: str, reason: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "authn.secret").write_text(content)
    (data / "authn.secret").chmod(0o600)
    line = _one_line(_run_briefly({"MF_DATA_DIR": str(data)}))
    assert f"{data / 'authn.secret'}: {reason}" in line, line
    assert "32 bytes" in line


@pytest.mark.parametrize(
    ("content", "reason"),
    [("", "expected 16, 24 or 32 bytes"), ("not a key\n", "expected hexadecimal digits")],
    ids=["empty", "not-hex"],
)
def test_a_bad_bootstrap_key_file_stops_start_up_naming_it(
    tmp_path: Path, content: str, reason: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "bootstrap.key").write_text(content)
    (data / "bootstrap.key").chmod(0o600)
    line = _one_line(_run_briefly({"MF_DATA_DIR": str(data)}))
    assert f"{data / 'bootstrap.key'}: not a bootstrap key: {reason}" in line, line


def test_a_short_authn_secret_variable_stops_start_up_naming_it(tmp_path: Path) -> None:
    result = _run_briefly({"MF_DATA_DIR": str(tmp_path), "MF_AUTHN_SECRET": "authn"})
    line = _one_line(result)
    assert line.startswith("mainflux: MF_AUTHN_SECRET: too short (5 bytes)"), line
    assert not (tmp_path / "authn.secret").exists()


def test_a_long_enough_authn_secret_variable_is_used(tmp_path: Path) -> None:
    platform = Platform(tmp_path / "data", extra_env={"MF_AUTHN_SECRET": "k" * 32})
    platform.start()
    assert platform.stop() == 0, platform.output[-4000:]
    assert not (platform.data_dir / "authn.secret").exists()


@pytest.fixture
def redis_with_password() -> Iterator[int]:
    """A Redis that wants a password other than :data:`PASSWORD`; yields its port."""
    port = free_port()
    options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(
        [_binary("redis-server"), "--port", str(port), *options, "--requirepass", "the-right-one"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _settings_with_a_password(name: str, redis_port: int) -> dict[str, str]:
    unreachable = free_port()
    return {
        "db-url-wrong-scheme": {"MF_DB_URL": f"mysql://mainflux:{PASSWORD}@127.0.0.1/x"},
        "db-url-bad-port": {"MF_DB_URL": f"postgresql://mainflux:{PASSWORD}@127.0.0.1:x/db"},
        "db-unreachable": {
            "MF_DB_URL": f"postgresql://mainflux:{PASSWORD}@127.0.0.1:{unreachable}/db"
        },
        "redis-unreachable": {"MF_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{unreachable}/0"},
        "redis-wrong-password": {"MF_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{redis_port}/0"},
        "nats-unreachable": {"MF_NATS_URL": f"nats://user:{PASSWORD}@127.0.0.1:{unreachable}"},
        "nats-token-unreachable": {"MF_NATS_URL": f"nats://{PASSWORD}@127.0.0.1:{unreachable}"},
    }[name]


@pytest.mark.parametrize(
    "case",
    [
        "db-url-wrong-scheme",
        "db-url-bad-port",
        "db-unreachable",
        "redis-unreachable",
        "redis-wrong-password",
        "nats-unreachable",
        "nats-token-unreachable",
    ],
)
def test_a_url_password_is_never_printed(
    tmp_path: Path, redis_with_password: int, case: str
) -> None:
    settings = _settings_with_a_password(case, redis_with_password)
    result = _run_briefly({"MF_DATA_DIR": str(tmp_path), "MF_LOG_LEVEL": "debug", **settings})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert PASSWORD not in output, output
    assert "Traceback" not in output, output
    [name] = settings
    assert f"mainflux: {name}: " in result.stderr, output
