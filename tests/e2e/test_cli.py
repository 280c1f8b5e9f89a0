"""The ``mainflux`` command against a real all-in-one platform: login, every command
group, tables and JSON, files, quickstart's printed commands, and every error as one
line with its exit code. In-process through Typer's runner, or as a subprocess where
a user's shell matters (quickstart, watch)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mainflux.cli import provision as provision_module
from mainflux.cli.main import app
from mainflux.sdk import Client
from tests.e2e.conftest import Platform
from tests.servers import free_port, wait_until

runner = CliRunner()


class Cli:
    """Runs ``mainflux`` commands as one user of the platform, with a private config
    directory (``XDG_CONFIG_HOME``)."""

    def __init__(self, platform: Platform, config_home: Path) -> None:
        self.platform = platform
        self.config_home = config_home
        self.env = {
            "XDG_CONFIG_HOME": str(config_home),
            "MAINFLUX_URL": platform.url,
            "MAINFLUX_TOKEN": None,
        }

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        result = runner.invoke(app, list(args), env={**self.env, **(env or {})})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, env: dict[str, str | None] | None = None) -> str:
        result = self(*args, env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    def process(self, *args: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MF_", "MAINFLUX_"))}
        env.update(XDG_CONFIG_HOME=str(self.config_home), MAINFLUX_URL=self.platform.url)
        return subprocess.Popen(
            [sys.executable, "-m", "mainflux.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def cli(shared_platform: Platform, tmp_path: Path) -> Cli:
    return Cli(shared_platform, tmp_path / "config")


@pytest.fixture
def sdk(shared_platform: Platform) -> Iterator[Client]:
    with Client(shared_platform.url) as client:
        yield client


def _login(cli: Cli, sdk: Client) -> tuple[str, str]:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    sdk.create_user(email, "12345678")
    result = cli("login", email, "--password", "12345678")
    assert result.exit_code == 0, result.stderr
    return email, sdk.create_token(email, "12345678")


def _one_error_line(result: Result, code: int, starts: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mainflux: {starts}"), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- login -------------------------------------------------------------------------------


def test_login_saves_the_url_and_token_privately_and_logout_forgets_them(
    cli: Cli, sdk: Client, shared_platform: Platform
) -> None:
    email, _ = _login(cli, sdk)
    folder = cli.config_home / "mainflux"
    saved = folder / "config.json"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    data = json.loads(saved.read_text())
    assert data["url"] == shared_platform.url and data["email"] == email
    assert sdk.user(data["token"]).email == email
    # Later commands need neither URL nor token.
    assert email in cli.ok("users", "get", env={"MAINFLUX_URL": None})
    assert cli("logout").stderr == "logged out\n"
    assert not saved.exists()
    _one_error_line(cli("users", "get"), 3, "no token")
    assert cli("logout").stderr == "not logged in\n"


def test_login_with_a_token_checks_it_first(cli: Cli, sdk: Client) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    sdk.create_user(email, "12345678")
    key = sdk.create_key(sdk.create_token(email, "12345678")).value
    assert cli("login", "--token", key).exit_code == 0
    assert email in cli.ok("users", "get")
    _one_error_line(cli("login", "--token", "forged"), 3, "not authorized")


def test_login_with_a_wrong_password_is_one_line(cli: Cli, sdk: Client) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    sdk.create_user(email, "12345678")
    _one_error_line(cli("login", email, "--password", "wrong-one"), 3, "not authorized")
    assert not (cli.config_home / "mainflux" / "config.json").exists()


def test_a_saved_token_goes_only_to_the_platform_it_came_from(cli: Cli, sdk: Client) -> None:
    _login(cli, sdk)
    other = f"http://127.0.0.1:{free_port()}"
    _one_error_line(cli("things", "get", "all", env={"MAINFLUX_URL": other}), 3, "no token")


def test_flags_and_the_environment_win_over_the_saved_profile(cli: Cli, sdk: Client) -> None:
    email, _ = _login(cli, sdk)
    other = f"{uuid.uuid4().hex[:10]}@example.com"
    sdk.create_user(other, "12345678")
    other_token = sdk.create_token(other, "12345678")
    assert other in cli.ok("--token", other_token, "users", "get")
    assert other in cli("users", "get", env={"MAINFLUX_TOKEN": other_token}).stdout
    assert other in cli.ok("users", "get", other_token)  # Mainflux CLI's positional token
    assert email in cli.ok("users", "get")


def test_an_expired_saved_token_says_to_log_in_again(cli: Cli, sdk: Client) -> None:
    _login(cli, sdk)
    saved = cli.config_home / "mainflux" / "config.json"
    data = json.loads(saved.read_text())
    saved.write_text(json.dumps({**data, "token": "expired"}))
    result = cli("things", "get", "all")
    _one_error_line(result, 3, "not authorized")
    assert "run `mainflux login`" in result.stderr


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'["a list"]',
        b'{"url": 1, "token": "t"}',
        b"\xff\xfe",
        b'{"url": "http://x", "token": "' + b"t" * 70000 + b'"}',
    ],
    ids=["not-json", "not-an-object", "url-not-a-string", "not-utf8", "oversized"],
)
def test_a_damaged_profile_is_one_line_naming_the_file(cli: Cli, content: bytes) -> None:
    folder = cli.config_home / "mainflux"
    folder.mkdir(parents=True)
    (folder / "config.json").write_bytes(content)
    result = cli("things", "get", "all")
    _one_error_line(result, 2, str(folder / "config.json"))
    assert "mainflux logout" in result.stderr
    assert cli("logout").exit_code == 0


# -- error paths ------------------------------------------------------------------------


def test_every_error_is_one_line_with_its_exit_code(cli: Cli, sdk: Client) -> None:
    email, token = _login(cli, sdk)
    down = f"http://127.0.0.1:{free_port()}"
    cases: list[tuple[tuple[str, ...], dict[str, str | None], int, str]] = [
        (("--token", "bad", "things", "get", "all"), {}, 3, "not authorized: "),
        (("things", "get", str(uuid.uuid4())), {}, 4, "not found: non-existent entity"),
        (("channels", "delete", "x", "bad-token"), {}, 3, "not authorized"),
        (("users", "create", email, "12345678"), {}, 5, "conflict: "),
        (("users", "create", "new@example.com", "123"), {}, 6, "bad request: password"),
        (("things", "get", "all", "--limit", "101"), {}, 6, "bad request: "),
        (("things", "create", "{bad"), {}, 2, "the thing is not valid JSON"),
        (("things", "create", "[1]"), {}, 2, "the thing must be a JSON object"),
        (("things", "update", '{"name":"x"}'), {}, 2, 'the thing needs its "id"'),
        (("--token", token, "things", "get", "all"), {"MAINFLUX_URL": down}, 7, "cannot reach"),
        (("users", "token", "a@b.com", "12345678"), {"MAINFLUX_URL": down}, 7, "cannot reach"),
        (("things", "get", "all"), {"MAINFLUX_URL": "ftp://x"}, 2, "the platform URL must"),
        (("--token", "caf\u00e9", "things", "get", "all"), {}, 6, "bad request: a token"),
        (("messages", "read", ".sub"), {}, 2, "no channel id given"),
        (("messages", "read", "c", "--comparator", "eq2"), {}, 2, "--comparator must"),
    ]
    for args, env, code, starts in cases:
        _one_error_line(cli(*args, env=env), code, starts)
    refused = cli("--url", down, "--token", "t", "things", "get", "all")
    assert (
        refused.stderr
        == f"mainflux: cannot reach the platform at {down}/things: connection refused\n"
    )


def test_a_thing_key_refused_by_the_adapter_is_exit_3(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    channel = sdk.create_channel(token, "c")
    _one_error_line(cli("messages", "send", channel, "[]", "wrong-key"), 3, "not authorized")
    _one_error_line(cli("messages", "read", channel, "wrong-key"), 3, "not authorized")
    _one_error_line(cli("messages", "send", channel, "[]"), 2, "no thing is connected")


# -- users, keys, things, channels ------------------------------------------------------


def test_users_commands_as_mainflux_cli_has_them(cli: Cli, sdk: Client) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    assert cli.ok("users", "create", email, "12345678", "--metadata", '{"a":1}') == f"{email}\n"
    token = cli.ok("users", "token", email, "12345678").strip()
    assert sdk.user(token).email == email
    assert json.loads(cli.ok("users", "get", token, "--json")) == {
        "email": email,
        "metadata": {"a": 1},
    }
    cli.ok("users", "update", '{"b":2}', token)
    assert sdk.user(token).metadata == {"b": 2}
    cli.ok("users", "password", "12345678", "87654321", token)
    assert sdk.create_token(email, "87654321")
    assert cli("users", "reset-request", email).exit_code == 0


def test_api_keys_are_created_shown_and_revoked(cli: Cli, sdk: Client) -> None:
    email, _ = _login(cli, sdk)
    created = json.loads(cli.ok("keys", "create", "--duration", "600", "--json"))
    assert sdk.user(created["value"]).email == email
    shown = cli.ok("keys", "get", created["id"])
    assert created["id"] in shown and email in shown
    cli.ok("keys", "revoke", created["id"])
    _one_error_line(cli("--token", created["value"], "users", "get"), 3, "not authorized")


def test_things_and_channels_round_trip(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    thing = cli.ok("things", "create", '{"name":"lamp","metadata":{"room":"hall"}}').strip()
    channel = cli.ok("channels", "create", '{"name":"hall"}').strip()
    assert sdk.thing(token, thing).name == "lamp"
    table = cli.ok("things", "get", "all")
    assert table.splitlines()[0].split() == ["ID", "NAME", "KEY", "METADATA"]
    assert thing in table and '{"room":"hall"}' in table
    listed = json.loads(cli.ok("things", "get", "all", "--json", "--name", "LAM"))
    assert listed["total"] == 1 and listed["things"][0]["id"] == thing
    by_meta = json.loads(cli.ok("things", "get", "all", "--json", "--metadata", '{"room":"x"}'))
    assert by_meta["total"] == 0
    one = json.loads(cli.ok("things", "get", thing, "--json"))
    assert one["key"] == sdk.thing(token, thing).key
    cli.ok("things", "update", json.dumps({"id": thing, "name": "lamp2"}))
    cli.ok("things", "key", thing, f"key-{thing}")
    assert sdk.thing(token, thing).key == f"key-{thing}"
    cli.ok("channels", "update", json.dumps({"id": channel, "name": "hall2"}))
    assert "hall2" in cli.ok("channels", "get", channel)
    cli.ok("things", "connect", thing, channel)
    _one_error_line(cli("things", "connect", thing, channel), 5, "conflict")
    assert channel in cli.ok("things", "connections", thing)
    assert f"key-{thing}" in cli.ok("channels", "connections", channel)
    cli.ok("things", "disconnect", thing, channel)
    assert json.loads(cli.ok("things", "connections", thing, "--json"))["total"] == 0
    cli.ok("things", "delete", thing)
    cli.ok("channels", "delete", channel)
    assert json.loads(cli.ok("channels", "get", "all", "--json"))["total"] == 0


def test_lists_say_when_more_pages_exist_and_all_walks_them(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    for start in (0, 100):
        sdk.create_things(token, [{"name": f"n{i}"} for i in range(start, start + 100)])
    sdk.create_things(token, [{"name": "last"}])
    page = cli("things", "get", "all", "--limit", "5", "--offset", "3")
    assert page.exit_code == 0
    assert len(page.stdout.splitlines()) == 2 + 5
    assert page.stderr.startswith("5 of 201 shown from offset 3")
    every = json.loads(cli.ok("things", "get", "all", "--all", "--json"))
    assert every["total"] == 201 and len({t["id"] for t in every["things"]}) == 201


def test_mainflux_cli_arguments_work_unchanged(cli: Cli, sdk: Client) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    sdk.create_user(email, "12345678")
    token = sdk.create_token(email, "12345678")
    thing = cli.ok("things", "create", '{"name":"go"}', token).strip()
    channel = cli.ok("channels", "create", '{"name":"go"}', token).strip()
    cli.ok("things", "connect", thing, channel, token)
    assert thing in cli.ok("things", "get", "all", "--offset=0", "--limit=5", token)
    assert channel in cli.ok("-m", cli.platform.url, "channels", "get", "all", token)


# -- messages ---------------------------------------------------------------------------


def test_messages_send_and_read_with_filters(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    thing_id = sdk.create_thing(token, "sensor")
    channel = sdk.create_channel(token, "room")
    sdk.connect(token, [channel], [thing_id])
    key = sdk.thing(token, thing_id).key or ""
    cli.ok("messages", "send", channel, '[{"n":"temp","u":"C","v":21}]', key)
    cli.ok("messages", "send", f"{channel}.a.b", '[{"n":"hum","v":40}]')  # a connected key
    cli.ok("messages", "send", channel, '[{"n":"on","vb":true}]', "--subtopic", "c")
    wait_until(lambda: sdk.read_messages(key, channel).total == 3, "3 messages stored")

    table = cli.ok("messages", "read", channel)
    assert table.splitlines()[0].split() == [
        "TIME",
        "PUBLISHER",
        "PROTOCOL",
        "SUBTOPIC",
        "NAME",
        "VALUE",
        "UNIT",
    ]
    assert "temp" in table and "21.0" in table and thing_id in table

    def names(*options: str) -> set[str]:
        body = json.loads(cli.ok("messages", "read", *options, "--json"))
        return {m["name"] for m in body["messages"]}

    assert names(f"{channel}.a.b") == {"hum"}
    assert names(channel, "--subtopic", "a/b") == {"hum"}
    assert names(channel, key, "--name", "temp") == {"temp"}
    assert names(channel, "--value", "30", "--comparator", "gt") == {"hum"}
    assert names(channel, "--bool-value") == {"on"}
    assert names(channel, "--protocol", "mqtt") == set()
    assert names(channel, "--publisher", thing_id, "--all") == {"temp", "hum", "on"}
    page = cli("messages", "read", channel, "--limit", "1")
    assert page.stderr.startswith("1 of 3 shown")


def test_messages_watch_prints_one_line_per_message(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    thing_id = sdk.create_thing(token, "sensor")
    channel = sdk.create_channel(token, "room")
    sdk.connect(token, [channel], [thing_id])
    key = sdk.thing(token, thing_id).key or ""
    watcher = cli.process("messages", "watch", channel, "--count", "3")
    assert watcher.stderr is not None
    opened = watcher.stderr.readline()
    assert opened == f"watching channel {channel} (Ctrl-C to stop)\n"
    sdk.send_message(key, channel, '[ {"n": "a",\n "v": 1} ]')
    sdk.send_message(key, channel, "two\nlines")
    sdk.send_message(key, channel, b"\xff\xfe")
    out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert out.splitlines() == ['[{"n":"a","v":1}]', "two\\nlines", "base64://4="]


def test_watch_stops_cleanly_on_ctrl_c(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    thing_id = sdk.create_thing(token, "sensor")
    channel = sdk.create_channel(token, "room")
    sdk.connect(token, [channel], [thing_id])
    watcher = cli.process("messages", "watch", channel)
    assert watcher.stderr is not None
    assert watcher.stderr.readline().startswith("watching channel")
    watcher.send_signal(signal.SIGINT)
    out, err = watcher.communicate(timeout=30)
    assert (watcher.returncode, out, err) == (0, "", "")


def test_watch_ends_with_exit_3_when_the_thing_is_disconnected(cli: Cli, sdk: Client) -> None:
    _, token = _login(cli, sdk)
    thing_id = sdk.create_thing(token, "sensor")
    channel = sdk.create_channel(token, "room")
    sdk.connect(token, [channel], [thing_id])
    watcher = cli.process("messages", "watch", channel, "--json")
    assert watcher.stderr is not None
    assert watcher.stderr.readline().startswith("watching channel")
    sdk.disconnect(token, channel, thing_id)
    _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 3
    assert err == "mainflux: not authorized: access revoked\n"


# -- provision --------------------------------------------------------------------------


def test_provision_things_channels_and_connections_from_files(
    cli: Cli, sdk: Client, tmp_path: Path
) -> None:
    _, token = _login(cli, sdk)
    things_csv = tmp_path / "things.csv"
    rows = [f"t{i}," for i in range(148)] + ['"meta",{"a":1}', "", "keyed,,my-key-" + token[-8:]]
    things_csv.write_text("\n".join(rows) + "\n")
    made = json.loads(cli.ok("provision", "things", str(things_csv), "--json"))["things"]
    assert len(made) == 150
    assert sdk.things(token, limit=1).total == 150
    assert sdk.things(token, name="meta").items[0].metadata == {"a": 1}
    assert sdk.things(token, name="keyed").items[0].key == "my-key-" + token[-8:]

    channels_json = tmp_path / "channels.json"
    channels_json.write_text(json.dumps([{"name": "c1", "metadata": {"x": 1}}, {"name": "c2"}]))
    table = cli.ok("provision", "channels", str(channels_json))
    channels = {c.name: c.id for c in sdk.iter_channels(token)}
    assert set(channels) == {"c1", "c2"} and channels["c1"] in table

    connections = tmp_path / "connect.csv"
    connections.write_text(
        f"{made[0]['id']},{channels['c1']}\n{made[1]['id']},{channels['c2']}\n"
        f"{made[1]['id']},{channels['c1']}\n"
    )
    result = cli("provision", "connect", str(connections))
    assert result.exit_code == 0, result.stderr
    assert "3 connection(s) made" in result.stderr
    assert {t.id for t in sdk.iter_things_by_channel(token, channels["c1"])} == {
        made[0]["id"],
        made[1]["id"],
    }
    every = tmp_path / "every.json"
    every.write_text(
        json.dumps({"thing_ids": [made[2]["id"]], "channel_ids": list(channels.values())})
    )
    cli.ok("provision", "connect", str(every))
    assert sdk.channels_by_thing(token, made[2]["id"]).total == 2


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("things.txt", "a\n", "the file must end in .csv or .json"),
        ("things.csv", "a,{not json}\n", "things.csv:1: metadata is not valid JSON"),
        ("things.csv", "a,[1]\n", "things.csv:1: metadata must be a JSON object"),
        ("things.csv", "a,,k,extra\n", "things.csv:1: at most 3 columns"),
        ("things.csv", "\n\n", "things.csv: nothing to create"),
        ("things.json", '{"name": "a"}', "expected a JSON array of objects"),
        ("things.json", "[{", "not valid JSON"),
        ("things.csv", b"\xff\xfe\x00", "not UTF-8 text"),
        ("missing.csv", None, "missing.csv: No such file or directory"),
    ],
    ids=[
        "extension",
        "metadata-json",
        "metadata-type",
        "columns",
        "empty",
        "json-shape",
        "json-syntax",
        "binary",
        "missing",
    ],
)
def test_a_bad_provisioning_file_is_one_line_naming_it(
    cli: Cli, sdk: Client, tmp_path: Path, name: str, content: str | bytes | None, message: str
) -> None:
    _login(cli, sdk)
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    _one_error_line(cli("provision", "things", str(path)), 2, "")
    assert message in cli("provision", "things", str(path)).stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("only-one-column\n", "connect.csv:1: expected thing_id,channel_id"),
        ("a,b,c\n", "connect.csv:1: expected thing_id,channel_id"),
    ],
    ids=["one-column", "three-columns"],
)
def test_a_bad_connections_file_is_one_line(
    cli: Cli, sdk: Client, tmp_path: Path, content: str, message: str
) -> None:
    _login(cli, sdk)
    path = tmp_path / "connect.csv"
    path.write_text(content)
    result = cli("provision", "connect", str(path))
    _one_error_line(result, 2, "")
    assert message in result.stderr


def test_an_oversized_provisioning_file_is_refused_before_reading(
    cli: Cli, sdk: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = _login(cli, sdk)
    monkeypatch.setattr(provision_module, "MAX_FILE", 64)
    path = tmp_path / "things.csv"
    path.write_text("x,\n" * 100)
    result = cli("provision", "things", str(path))
    _one_error_line(result, 2, f"{path}: larger than 64 bytes")
    assert sdk.things(token).total == 0


def test_provision_test_makes_a_connected_user_like_mainflux(cli: Cli, sdk: Client) -> None:
    made = json.loads(cli.ok("provision", "test", "--json"))
    token = made["user"]["token"]
    assert made["user"]["email"].endswith("@email.com") and made["user"]["password"] == "12345678"
    assert [t["name"] for t in made["things"]] == ["d0", "d1"]
    for channel in made["channels"]:
        assert sdk.things_by_channel(token, channel["id"]).total == 2


# -- quickstart, version, help ------------------------------------------------------------


def _bash(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)


def test_quickstart_prints_commands_that_deliver_as_pasted(
    cli: Cli, sdk: Client, shared_platform: Platform
) -> None:
    proc = cli.process("quickstart")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    pasted = [
        line.strip() for line in out.splitlines() if line.strip().startswith(("curl", "mosq"))
    ]
    assert len(pasted) == 2
    assert f"-p {shared_platform.mqtt_port} " in pasted[1]  # the platform's real MQTT port
    for command in pasted:
        ran = _bash(command)
        assert ran.returncode == 0, (command, ran.stderr)
    coap = next(line.strip() for line in out.splitlines() if line.strip().startswith("coap"))
    # The platform's real CoAP port, as for MQTT.
    assert coap.startswith(
        f"coap-client -m post 'coap://127.0.0.1:{shared_platform.coap_port}/channels/"
    )
    channel = out.split("Channel", 1)[1].split()[0]
    # The token is saved: reading back needs no argument.
    saved = json.loads((cli.config_home / "mainflux" / "config.json").read_text())
    wait_until(lambda: sdk.read_messages(saved["token"], channel).total == 2, "both stored")
    read = json.loads(cli.ok("messages", "read", channel, "--json"))
    assert sorted(m["protocol"] for m in read["messages"]) == ["http", "mqtt"]
    assert {m["name"] for m in read["messages"]} == {"quickstart:temperature"}
    # A second run reuses the same user, thing and channel.
    again = json.loads(cli.ok("quickstart", "--json"))
    assert again["channel"]["id"] == channel and "password" not in again["user"]
    assert sdk.things(saved["token"]).total == 1


def test_quickstart_with_an_email_logs_in_or_creates_the_user(cli: Cli, sdk: Client) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    first = json.loads(
        cli.ok(
            "quickstart",
            "--email",
            email,
            "--password",
            "12345678",
            "--json",
            "--mqtt-port",
            "11883",
            "--coap-port",
            "15683",
        )
    )
    assert first["user"] == {"email": email}
    assert " -p 11883 " in first["commands"]["mosquitto_pub"]
    assert ":15683/channels/" in first["commands"]["coap-client"]
    assert sdk.create_token(email, "12345678")
    cli.ok("logout")
    second = json.loads(cli.ok("quickstart", "--email", email, "--password", "12345678", "--json"))
    assert second["thing"] == first["thing"]
    wrong = cli("quickstart", "--email", email, "--password", "another-one")
    _one_error_line(wrong, 3, f"{email} exists with another password")


def test_version_asks_the_platform_when_one_is_configured(cli: Cli) -> None:
    from mainflux import __version__

    assert cli.ok("version", env={"MAINFLUX_URL": None}) == f"{__version__}\n"
    assert cli.ok("version") == f"{__version__}\nthings {__version__} at {cli.platform.url}\n"
    body = json.loads(cli.ok("version", "--json"))
    assert body["platform"]["service"] == "things"
    down = f"http://127.0.0.1:{free_port()}"
    _one_error_line(cli("version", env={"MAINFLUX_URL": down}), 7, "cannot reach")


def test_help_lists_every_group_without_importing_the_sdk() -> None:
    code = (
        "import sys\n"
        "from mainflux.cli.main import app\n"
        "try:\n"
        "    app(['--help'], prog_name='mainflux')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0\n"
        "heavy = [m for m in ('mainflux.sdk', 'httpx', 'websockets', 'sqlalchemy') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stderr
    for group in (
        "users",
        "keys",
        "things",
        "channels",
        "messages",
        "provision",
        "bootstrap",
        "quickstart",
        "login",
        "logout",
        "run",
        "serve",
        "events",
        "version",
    ):
        assert f" {group} " in result.stdout, group
    assert "HEAVY []" in result.stdout
