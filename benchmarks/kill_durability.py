"""Kill durability: are messages answered 202 still stored after ``kill -9``?

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/kill_durability.py [--messages 1000]
[--clients 8] [--kill-after 500] [--signal KILL] [--runs 1]``

Each run starts ``mainflux run`` (embedded defaults: SQLite, in-process bus; a fresh
temporary data directory and free ports), creates a user, a thing and a channel over
HTTP, then publishes ``--messages`` one-record SenML messages (each with its own value)
from ``--clients`` concurrent keep-alive clients. Once ``--kill-after`` of them were
answered 202, the process gets ``--signal`` (``KILL`` by default; ``TERM`` for a clean
stop). It is started again on the same data directory and every stored record is read
back through the reader API (``GET /channels/<id>/messages``, thing key). Printed per
run: messages answered 202, stored, lost (answered 202 but not stored) and stored
without a 202 (in flight when the process died: stored, but the client never heard)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"mainflux run exited with {proc.returncode}; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"mainflux run did not listen on {port} within {timeout}s")


@dataclass
class Platform:
    """One ``mainflux run`` process on a data directory and free ports."""

    data_dir: Path
    log: Path
    gateway_port: int = 0
    mqtt_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> None:
        self.gateway_port, self.mqtt_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
        env.update(
            MF_DATA_DIR=str(self.data_dir),
            MF_GATEWAY_HOST="127.0.0.1",
            MF_GATEWAY_PORT=str(self.gateway_port),
            MF_MQTT_ADAPTER_MQTT_PORT=str(self.mqtt_port),
        )
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mainflux.cli", "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.gateway_port, self.proc)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)
        self.proc.wait(60)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.signal(signal.SIGINT)


async def provision(client: httpx.AsyncClient) -> tuple[str, str]:
    """A user, a thing and a channel, connected; returns ``(channel id, thing key)``."""
    user = {"email": "kill@example.com", "password": "12345678"}
    (await client.post("/users", json=user)).raise_for_status()
    token = (await client.post("/tokens", json=user)).json()["token"]
    auth = {"Authorization": token, **JSON}
    thing = await client.post("/things", json={"name": "sensor"}, headers=auth)
    thing.raise_for_status()
    thing_id = thing.headers["location"].rsplit("/", 1)[-1]
    key = (await client.get(f"/things/{thing_id}", headers=auth)).json()["key"]
    channel = await client.post("/channels", json={"name": "room"}, headers=auth)
    channel.raise_for_status()
    channel_id = channel.headers["location"].rsplit("/", 1)[-1]
    connect = {"channel_ids": [channel_id], "thing_ids": [thing_id]}
    (await client.post("/connect", json=connect, headers=auth)).raise_for_status()
    return channel_id, key


@dataclass
class Outcome:
    answered: set[int]
    refused: int  # answered, but not 202 (503 under backpressure, say)
    failed: int  # no answer: the process died with the request in flight


async def publish(
    url: str,
    channel: str,
    key: str,
    messages: int,
    clients: int,
    kill_after: int,
    kill: asyncio.Event,
) -> Outcome:
    """Publish ``messages`` values from ``clients`` clients; set ``kill`` at ``kill_after``."""
    answered: set[int] = set()
    outcome = Outcome(answered, 0, 0)
    values = iter(range(messages))
    path = f"/http/channels/{channel}/messages"
    headers = {"Authorization": key, "Content-Type": "application/senml+json"}

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for value in values:
                body = f'[{{"bn":"kill:","n":"v","v":{value}}}]'
                try:
                    response = await client.post(path, content=body, headers=headers)
                except httpx.HTTPError:
                    outcome.failed += 1
                    continue
                if response.status_code == 202:
                    answered.add(value)
                    if len(answered) >= kill_after:
                        kill.set()
                else:
                    outcome.refused += 1

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return outcome


async def stored_values(url: str, channel: str, key: str) -> list[int]:
    """Every stored record's value, read page by page through the reader API."""
    found: list[int] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        offset = 0
        while True:
            response = await client.get(
                f"/channels/{channel}/messages",
                params={"offset": offset, "limit": 1000},
                headers={"Authorization": key},
            )
            response.raise_for_status()
            page = response.json()
            found.extend(int(m["value"]) for m in page["messages"])
            offset += len(page["messages"])
            if not page["messages"] or offset >= page["total"]:
                return found


async def one_run(args: argparse.Namespace, workdir: Path, index: int) -> tuple[int, int, int, int]:
    data = workdir / f"run{index}"
    platform = Platform(data, workdir / f"run{index}.log")
    platform.start()
    try:
        async with httpx.AsyncClient(base_url=platform.url, timeout=30) as client:
            channel, key = await provision(client)
        kill = asyncio.Event()
        signum = getattr(signal, f"SIG{args.signal}")
        publishing = asyncio.create_task(
            publish(platform.url, channel, key, args.messages, args.clients, args.kill_after, kill)
        )
        waiter = asyncio.create_task(kill.wait())
        await asyncio.wait({publishing, waiter}, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.to_thread(platform.signal, signum)
        outcome = await publishing
        waiter.cancel()
        platform.start()
        values = await stored_values(platform.url, channel, key)
    finally:
        platform.stop()
    stored = set(values)
    lost = len(outcome.answered - stored)
    extra = len(stored - outcome.answered)
    print(
        f"run {index + 1}: SIG{args.signal} after {args.kill_after} answered 202: "
        f"answered 202 = {len(outcome.answered)}, stored = {len(stored)}, "
        f"lost = {lost}, stored without a 202 = {extra}, "
        f"other answers = {outcome.refused}, no answer = {outcome.failed}",
        flush=True,
    )
    return len(outcome.answered), len(stored), lost, extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages to publish")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--kill-after", type=int, default=500, help="signal once this many were answered 202"
    )
    parser.add_argument("--signal", choices=("KILL", "TERM", "INT"), default="KILL")
    parser.add_argument("--runs", type=int, default=1, help="repeat the whole run")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and logs")
    args = parser.parse_args()
    if not 0 < args.kill_after <= args.messages:
        parser.error("--kill-after must be between 1 and --messages")
    workdir = Path(tempfile.mkdtemp(prefix="mf-kill-"))
    totals = [0, 0, 0, 0]
    for index in range(args.runs):
        for i, value in enumerate(asyncio.run(one_run(args, workdir, index))):
            totals[i] += value
    if args.runs > 1:
        print(
            f"total: answered 202 = {totals[0]}, stored = {totals[1]}, lost = {totals[2]}, "
            f"stored without a 202 = {totals[3]}"
        )
    if args.keep:
        print(f"data and logs kept in {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
