"""The web console in a real browser (Debian's Chromium driven by Playwright) against a
real ``mainflux run``: a new user signs up, creates a thing and a channel, connects them,
watches an MQTT message arrive live, finds it in the history and the chart, deletes the
thing, and adds and whitelists a bootstrap config. Set ``CONSOLE_SCREENSHOTS=<dir>`` to
keep the pages' screenshots there (the ones in docs/console/ come from this test)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import Platform
from tests.servers import free_port, wait_for_port, wait_until

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (``make test`` installs it); missing, the test fails saying so."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/services.sh)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ``CONSOLE_SCREENSHOTS`` or the test's own directory."""
    where = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "shots")
    where.mkdir(parents=True, exist_ok=True)
    return where


def _shoot(page: Page, where: Path, name: str) -> None:
    page.screenshot(path=str(where / f"{name}.png"), full_page=True)


def _nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def _publish(platform: Platform, thing: str, key: str, channel: str, payload: str) -> None:
    """Publish once over MQTT as the thing (QoS 1: the broker acknowledged it)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex}")
    client.username_pw_set(thing, key)
    client.connect("127.0.0.1", platform.mqtt_port)
    client.loop_start()
    try:
        info = client.publish(f"channels/{channel}/messages", payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published(), "the broker never acknowledged the publish"
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_new_user_manages_devices_and_watches_them_live(
    platform: Platform, browser: Browser, shots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"

    # `/` opens the console; a visitor lands on the login page and signs up.
    page.goto(platform.url + "/")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    _shoot(page, shots, "login")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill("correct horse")
    page.get_by_label("Password again").fill("correct horse")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status")).to_have_text("Account created. Welcome!")
    expect(page.locator("#count-things")).to_have_text("0")

    # A thing, with its metadata checked in the page before it is sent.
    _nav(page, "Things")
    page.get_by_label("Name", exact=True).fill("thermometer")
    page.get_by_label("Metadata (JSON object, optional)").fill('{"room": ')
    expect(page.locator("#e-metadata")).to_contain_text("not valid JSON")
    page.get_by_label("Metadata (JSON object, optional)").fill('{"room": "kitchen"}')
    expect(page.locator("#e-metadata")).to_be_hidden()
    page.get_by_role("button", name="Create thing").click()
    expect(page.get_by_role("status")).to_have_text("Created.")
    thing_id = page.locator("#thing-id").inner_text()
    key_input = page.get_by_label(f"Key of {thing_id}")
    expect(key_input).to_have_attribute("type", "password")
    page.get_by_role("button", name="Show").click()
    expect(key_input).to_have_attribute("type", "text")
    key = key_input.input_value()
    assert uuid.UUID(key)

    # A channel, connected to the thing from the channel's side.
    _nav(page, "Channels")
    page.get_by_label("Name", exact=True).fill("kitchen")
    page.get_by_role("button", name="Create channel").click()
    channel_id = page.locator("#channel-id").inner_text()
    page.get_by_label("Connect a thing").select_option(thing_id)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.get_by_role("status").first).to_have_text("Connected.")
    expect(page.locator(".connections")).to_contain_text("thermometer")

    # Messages published over MQTT show up on the open page, without reloading.
    expect(page.locator("#live-status")).to_contain_text("Listening")
    for value in ("20.5", "21.5", "21"):
        senml = f'[{{"bn":"kitchen:","n":"temperature","u":"Cel","v":{value}}}]'
        _publish(platform, thing_id, key, channel_id, senml)
        expect(page.locator("#live tbody tr").first).to_contain_text(
            f"kitchen:temperature = {value} Cel"
        )
    expect(page.locator("#live tbody tr")).to_have_count(3)

    # Once the writer has stored them, the history and the chart show them.
    reader = f"{platform.url}/channels/{channel_id}/messages"

    def stored() -> bool:
        return httpx.get(reader, headers={"Authorization": key}).json()["total"] == 3

    wait_until(stored, "the messages are stored")
    page.reload()
    expect(page.locator("#history tbody tr")).to_have_count(3)
    expect(page.locator("#history tbody tr").first).to_contain_text("kitchen:temperature")
    expect(page.locator("#history")).to_contain_text("21.5")
    expect(page.locator("svg.chart circle")).to_have_count(3)
    expect(page.locator("#live-status")).to_contain_text("Listening")
    _publish(platform, thing_id, key, channel_id, '[{"n":"kitchen:humidity","u":"%RH","v":48}]')
    expect(page.locator("#live tbody tr").first).to_contain_text("kitchen:humidity = 48 %RH")
    _shoot(page, shots, "channel")

    page.get_by_label("Name", exact=True).last.fill("nothing-called-this")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("section[aria-labelledby=history-title]")).to_contain_text(
        "No stored messages match these filters"
    )

    # The thing's page has ready-to-paste commands with its real id, key and ports.
    page.goto(f"{platform.url}/ui/things/{thing_id}")
    commands = page.locator("[data-command]").all_inner_texts()
    mqtt_command = next(c for c in commands if c.startswith("mosquitto_pub"))
    assert f"-p {platform.mqtt_port}" in mqtt_command and thing_id in mqtt_command
    assert key in mqtt_command and f"channels/{channel_id}/messages" in mqtt_command
    assert any(
        f"127.0.0.1:{platform.gateway_port}/http/channels/{channel_id}" in c for c in commands
    )
    assert any(c.startswith("coap-client") for c in commands)
    _shoot(page, shots, "thing")

    page.goto(f"{platform.url}/ui/")
    expect(page.locator("#count-messages")).to_have_text("4")
    expect(page.locator("#count-connections")).to_have_text("1")
    expect(page.locator("table.events")).to_contain_text("thing.connect")
    _shoot(page, shots, "home")

    # Delete the thing, confirming on the page that asks.
    page.goto(f"{platform.url}/ui/things/{thing_id}")
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Delete thing")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Deleted.")
    expect(page.locator("main")).to_contain_text("No things yet.")

    # Many things at once from a CSV file.
    csv = b'name,metadata\nvalve-1,"{""zone"": 1}"\nvalve-2,"{""zone"": 2}"\npump\n'
    page.get_by_label(re.compile("CSV file")).set_input_files(
        files=[{"name": "things.csv", "mimeType": "text/csv", "buffer": csv}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_have_text("Created.")
    expect(page.locator("table.entities tbody tr")).to_have_count(3)
    _shoot(page, shots, "things")

    # On a phone-sized screen the channel list still reads without sideways scrolling.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.add_cookies(context.cookies())
    small = phone.new_page()
    small.goto(f"{platform.url}/ui/channels")
    expect(small.get_by_role("link", name="kitchen")).to_be_visible()
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    _shoot(small, shots, "phone-channels")
    phone.close()

    # A bootstrap config for a device yet to come: added, whitelisted, its thing connected.
    _nav(page, "Bootstrap")
    page.get_by_label("External ID").fill("02:42:ac:11:00:02")
    page.get_by_label("External key").fill("device-secret")
    page.get_by_label("Name", exact=True).fill("gateway")
    page.get_by_label("kitchen").check()
    page.get_by_role("button", name="Add config").click()
    expect(page.get_by_role("status")).to_have_text("Created.")
    expect(page.locator("#config-state")).to_contain_text("inactive")
    page.get_by_role("button", name="Whitelist", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Whitelisted")
    expect(page.locator("#config-state")).to_contain_text("whitelisted")
    _shoot(page, shots, "bootstrap")
    page.locator("#config-thing").click()
    expect(page.locator(".connections")).to_contain_text("kitchen")
    device = httpx.get(
        f"{platform.url}/things/bootstrap/02:42:ac:11:00:02",
        headers={"Authorization": "device-secret"},
    )
    assert [c["id"] for c in device.json()["mainflux_channels"]] == [channel_id]
    context.close()


def _ui_env(platform: Platform, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env.update(
        MF_UI_PORT=str(port),
        MF_UI_HOST="127.0.0.1",
        MF_UI_USERS_URL=platform.url,
        MF_UI_THINGS_URL=platform.url,
        MF_UI_AUTHN_URL=platform.url,
        MF_UI_READER_URL=platform.url,
        MF_UI_BOOTSTRAP_URL=platform.url,
        MF_UI_HTTP_ADAPTER_URL=f"{platform.url}/http",
        MF_UI_WS_URL=f"ws://127.0.0.1:{platform.gateway_port}/ws",
        MF_UI_MQTT_HOST="mqtt.example.com",
        MF_UI_MQTT_PORT=str(platform.mqtt_port),
    )
    env.update(extra)
    return env


def test_mainflux_ui_serves_the_console_against_the_services_urls(platform: Platform) -> None:
    """The microservice deployment's console: its own process, every call over HTTP."""
    port = free_port()
    command = [sys.executable, "-m", "mainflux.cli", "serve", "ui"]
    proc = subprocess.Popen(
        command,
        env=_ui_env(platform, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=True) as ui:
            health = ui.get("/health")
            assert health.status_code == 200 and health.json()["service"] == "ui"
            page = ui.get("/")
            assert page.url.path == "/login"
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            email = f"bo-{uuid.uuid4().hex[:8]}@example.com"
            form = {"csrf": csrf, "email": email, "password": "pass word", "confirm": "pass word"}
            assert "Account created" in ui.post("/signup", data=form).text
            created = ui.post("/things", data={"csrf": csrf, "name": "pump"})
            assert created.url.path.startswith("/things/") and "Created." in created.text
            channel = ui.post("/channels", data={"csrf": csrf, "name": "tank"})
            channel_id = channel.url.path.rsplit("/", 1)[1]
            thing_id = created.url.path.rsplit("/", 1)[1]
            ui.post(f"/things/{thing_id}/connect", data={"csrf": csrf, "id": channel_id})
            thing_page = ui.get(f"/things/{thing_id}").text
            assert f"-h mqtt.example.com -p {platform.mqtt_port}" in thing_page
            live = ui.get(f"/channels/{channel_id}").text
            assert f"ws://127.0.0.1:{platform.gateway_port}/ws/channels/{channel_id}" in live
            # Bootstrap configs through MF_UI_BOOTSTRAP_URL.
            spec = {"csrf": csrf, "external_id": "ext-1", "external_key": "k", "name": "gw"}
            added = ui.post("/bootstrap", data={**spec, "channels": channel_id})
            assert "Created." in added.text, added.text
            config_id = added.url.path.rsplit("/", 1)[1]
            on = ui.post(f"/bootstrap/{config_id}/state", data={"csrf": csrf, "state": "1"})
            assert "Whitelisted" in on.text
        # The platform itself has the things and the connection: the console used its API.
        with httpx.Client(base_url=platform.url) as api:
            token = api.post("/tokens", json={"email": email, "password": "pass word"})
            auth = {"Authorization": token.json()["token"]}
            things = api.get("/things", headers=auth)
            assert sorted(t["name"] for t in things.json()["things"]) == ["gw", "pump"]
            linked = api.get(f"/things/{config_id}/channels", headers=auth).json()
            assert [c["id"] for c in linked["channels"]] == [channel_id]
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "Traceback" not in output


def test_mainflux_ui_help_and_a_bad_setting() -> None:
    command = [sys.executable, "-m", "mainflux.console.main"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "MF_UI_WS_URL" in shown.stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env["MF_UI_WS_URL"] = "http://not-a-websocket"
    bad = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "mainflux: MF_UI_WS_URL: expected a ws/wss URL, got 'http://not-a-websocket'"
    ]
