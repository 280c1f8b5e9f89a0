"""Bootstrap and provision through the SDK and the ``mainflux`` command, against a real
all-in-one platform (needs the bootstrap and provision services mounted on the gateway:
/things/configs, /things/bootstrap, /things/state, /things/unknown, POST /mapping)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from mainflux.bootstrap.settings import DEFAULT_ENCRYPT_KEY
from mainflux.sdk import BadRequest, Client, Conflict, NotFound, Unauthorized
from tests.e2e.conftest import Platform
from tests.e2e.test_cli import Cli, _login, _one_error_line


@pytest.fixture
def mf(shared_platform: Platform) -> Iterator[Client]:
    with Client(shared_platform.url) as client:
        yield client


@pytest.fixture
def cli(shared_platform: Platform, tmp_path) -> Cli:  # type: ignore[no-untyped-def]
    return Cli(shared_platform, tmp_path / "config")


def _token(mf: Client) -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    mf.create_user(email, "12345678")
    return mf.create_token(email, "12345678")


def test_bootstrap_config_lifecycle_through_the_sdk(mf: Client) -> None:
    token = _token(mf)
    channel = mf.create_channel(token, "boot")
    external = f"aa:bb:{uuid.uuid4().hex[:6]}"
    thing_id = mf.add_bootstrap(
        token, external, "ext-key", channels=[channel], name="gw", content='{"x":1}'
    )
    config = mf.view_bootstrap(token, thing_id)
    assert (config.mainflux_id, config.state, config.external_id) == (thing_id, 0, external)
    assert [c.id for c in config.mainflux_channels] == [channel]
    with pytest.raises(Conflict):
        mf.add_bootstrap(token, external, "ext-key")
    fetched = mf.bootstrap(external, "ext-key")
    assert fetched.mainflux_key == mf.thing(token, thing_id).key and fetched.content == '{"x":1}'
    with pytest.raises(NotFound):
        mf.bootstrap(external, "wrong-key")
    with pytest.raises(NotFound):
        mf.bootstrap("unknown-" + external, "k")
    assert "unknown-" + external in {u.external_id for u in mf.unknown_bootstrap_configs(token)}
    mf.update_bootstrap(token, thing_id, name="gw2", content="new")
    assert mf.view_bootstrap(token, thing_id).name == "gw2"
    mf.whitelist(token, thing_id, 1)
    assert [t.id for t in mf.iter_things_by_channel(token, channel)] == [thing_id]
    mf.whitelist(token, thing_id, 0)
    assert mf.things_by_channel(token, channel).total == 0
    other = mf.create_channel(token, "other")
    mf.update_bootstrap_connections(token, thing_id, [other])
    assert [c.id for c in mf.view_bootstrap(token, thing_id).mainflux_channels] == [other]
    mf.update_bootstrap_certs(token, thing_id, "cert", "key", "ca")
    assert mf.bootstrap(external, "ext-key").client_cert == "cert"
    page = mf.bootstrap_configs(token, state=0)
    assert page.total == 1 and page.items[0].mainflux_id == thing_id
    with pytest.raises(BadRequest):
        mf.whitelist(token, thing_id, 2)
    mf.remove_bootstrap(token, thing_id)
    with pytest.raises(NotFound):
        mf.view_bootstrap(token, thing_id)
    with pytest.raises(Unauthorized):
        mf.bootstrap_configs("bad-token")


def test_secure_bootstrap_through_the_sdk(mf: Client, shared_platform: Platform) -> None:
    """The all-in-one runs without MF_BOOTSTRAP_ENCRYPT_KEY: its key is in the data dir."""
    service_key = (shared_platform.data_dir / "bootstrap.key").read_text().strip()
    token = _token(mf)
    channel = mf.create_channel(token, "secure")
    external = f"cc:dd:{uuid.uuid4().hex[:6]}"
    thing_id = mf.add_bootstrap(
        token, external, "s3cret", channels=[channel], content='{"interval": 10}'
    )
    plain = mf.bootstrap(external, "s3cret")
    for key in (service_key, bytes.fromhex(service_key)):
        secure = mf.bootstrap(external, "s3cret", secure_key=key)
        assert secure == plain
        assert secure.mainflux_id == thing_id and secure.content == '{"interval": 10}'
        assert [c.id for c in secure.mainflux_channels] == [channel]
    with pytest.raises(NotFound):
        mf.bootstrap(external, "wrong", secure_key=service_key)
    # Another key, Mainflux's published one included: the service cannot read the
    # external key (404)...
    for other in ("ab" * 16, DEFAULT_ENCRYPT_KEY):
        with pytest.raises(NotFound):
            mf.bootstrap(external, "s3cret", secure_key=other)
    # ...and a malformed key is refused before any request.
    with pytest.raises(ValueError, match="hexadecimal"):
        mf.bootstrap(external, "s3cret", secure_key="not hex")
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        mf.bootstrap(external, "s3cret", secure_key=b"short")


def test_provision_mapping_through_the_sdk(mf: Client) -> None:
    token = _token(mf)
    made = mf.provision(token, f"ext-{uuid.uuid4().hex[:6]}", "ext-key", name="gateway")
    assert made.things and made.channels
    thing = mf.thing(token, made.things[0].id)
    assert thing.metadata is not None and thing.metadata.get("type") == "gateway"
    with pytest.raises(Unauthorized):
        mf.provision("bad-token", "x", "y")


def test_bootstrap_commands(cli: Cli, mf: Client) -> None:
    _, token = _login(cli, mf)
    channel = mf.create_channel(token, "boot")
    external = f"cc:dd:{uuid.uuid4().hex[:6]}"
    config = json.dumps({"external_id": external, "external_key": "k", "channels": [channel]})
    thing_id = cli.ok("bootstrap", "add", config).strip()
    assert external in cli.ok("bootstrap", "view", thing_id)
    assert thing_id in cli.ok("bootstrap", "list")
    cli.ok("bootstrap", "update", json.dumps({"thing_id": thing_id, "name": "n", "content": "c"}))
    cli.ok("bootstrap", "whitelist", thing_id, "1")
    fetched = json.loads(cli.ok("bootstrap", "bootstrap", external, "k", "--json"))
    assert fetched["mainflux_id"] == thing_id and fetched["content"] == "c"
    _one_error_line(cli("bootstrap", "bootstrap", external, "wrong"), 4, "not found")
    _one_error_line(cli("bootstrap", "add", config), 5, "conflict")
    _one_error_line(cli("bootstrap", "add", "{"), 2, "the config is not valid JSON")
    cli.ok("bootstrap", "remove", thing_id)
    _one_error_line(cli("bootstrap", "view", thing_id), 4, "not found")


def test_provision_mapping_command(cli: Cli, mf: Client) -> None:
    _login(cli, mf)
    made = json.loads(cli.ok("provision", "mapping", f"e-{uuid.uuid4().hex[:6]}", "k", "--json"))
    assert made["things"] and made["channels"]
    _one_error_line(cli("--token", "bad", "provision", "mapping", "e", "k"), 3, "not authorized")
