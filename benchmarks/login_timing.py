"""Login and reset-request timing for a known and an unknown email.

Serves the users HTTP API on uvicorn in a separate process, with the real authn service
in-process, bcrypt at Mainflux's cost 10 and a throw-away SQLite database (or
``--db-url``); a client then times the cases, shuffled in every round, over HTTP
keep-alive and prints the median and 90th percentile in milliseconds per case. An
unknown email should cost about what a wrong password for a known one costs, and a
reset request the same for both (the mail goes out after the answer), so a caller
cannot tell which emails have accounts. Asserts nothing.

    .venv/bin/python benchmarks/login_timing.py [--rounds N] [--db-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

KNOWN = "known@example.com"
UNKNOWN = "unknown@example.com"
PASSWORD = "correct-password"

Request = Callable[[httpx.AsyncClient], Coroutine[Any, Any, httpx.Response]]

CASES: dict[str, Request] = {
    "login, known email, wrong password": lambda c: c.post(
        "/tokens", json={"email": KNOWN, "password": "wrong-password"}
    ),
    "login, unknown email": lambda c: c.post(
        "/tokens", json={"email": UNKNOWN, "password": "wrong-password"}
    ),
    "login, known email, right password": lambda c: c.post(
        "/tokens", json={"email": KNOWN, "password": PASSWORD}
    ),
    "reset request, known email": lambda c: c.post(
        "/password/reset-request", json={"email": KNOWN}
    ),
    "reset request, unknown email": lambda c: c.post(
        "/password/reset-request", json={"email": UNKNOWN}
    ),
}


async def serve(db_url: str, mail_dir: Path) -> None:
    """Server mode: the users API with in-process authn on uvicorn; prints its port."""
    from mainflux.authn.main import build_service as build_authn
    from mainflux.core.db import create_engine
    from mainflux.core.runner import bind_socket, serve_http
    from mainflux.users.api import create_app
    from mainflux.users.email import OutboxEmailer
    from mainflux.users.main import build_service

    engine = create_engine(db_url)
    authn = await build_authn(engine, "benchmark-secret")
    users = await build_service(engine, authn, OutboxEmailer(mail_dir))
    sock = bind_socket("127.0.0.1", 0, "port")
    print(sock.getsockname()[1], flush=True)
    try:
        await serve_http(create_app(users), sock, name="users")
    finally:
        await engine.dispose()


def mail_count(mail_dir: Path) -> int:
    return len(list(mail_dir.glob("*.eml"))) if mail_dir.exists() else 0


async def wait_for_mails(mail_dir: Path, count: int, timeout: float = 10.0) -> None:
    """Wait until the server has written ``count`` mails (outside the timed requests)."""
    deadline = time.monotonic() + timeout
    while mail_count(mail_dir) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} mails not written after {timeout}s")
        await asyncio.sleep(0.005)


async def measure(port: int, rounds: int, mail_dir: Path) -> dict[str, list[float]]:
    """Time each case ``rounds`` times over HTTP keep-alive, in a shuffled order per round
    (whatever follows a bcrypt check runs slower, whichever case it is)."""
    times: dict[str, list[float]] = {name: [] for name in CASES}
    order = list(CASES)
    shuffle = random.Random(0).shuffle
    mails = 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        await client.post("/users", json={"email": KNOWN, "password": PASSWORD})
        for round_ in range(rounds + 1):  # round 0 warms up
            shuffle(order)
            for name in order:
                request = CASES[name]
                start = time.perf_counter()
                response = await request(client)
                elapsed = (time.perf_counter() - start) * 1000
                if response.status_code not in (201, 403):
                    raise RuntimeError(f"{name}: {response.status_code} {response.text}")
                if round_:
                    times[name].append(elapsed)
                if name == "reset request, known email":
                    mails += 1
                    await wait_for_mails(mail_dir, mails)  # mails go out between samples
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--db-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--serve", metavar="MAIL_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.db_url, Path(args.serve)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db_url or f"sqlite+aiosqlite:///{tmp}/users.db"
        mail_dir = Path(tmp) / "mail"
        command = [sys.executable, __file__, "--serve", str(mail_dir), "--db-url", db_url]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            times = asyncio.run(measure(port, args.rounds, mail_dir))
        finally:
            server.terminate()
            server.wait(10)
    print(f"{'case':<38} {'median ms':>10} {'p90 ms':>8}   ({args.rounds} rounds, bcrypt cost 10)")
    for name, samples in times.items():
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{name:<38} {statistics.median(samples):>10.1f} {p90:>8.1f}")


if __name__ == "__main__":
    main()
