"""Contract fuzzing, long run: schemathesis against a real all-in-one platform.

Run: ``.venv/bin/python benchmarks/fuzz.py [--examples 200] [--seed N] [--url URL]
[--bootstrap-key HEX]``

Without ``--url`` it starts ``mainflux run`` on free ports with a temporary data
directory (SQLite, in-process bus) and stops it afterwards; with ``--url`` it fuzzes a
platform already running there (it registers a fresh user, thing, channel and bootstrap
config; ``--bootstrap-key`` is that platform's ``MF_BOOTSTRAP_ENCRYPT_KEY`` if it is not
the default, for secure bootstrap requests that decrypt). Every
operation of ``/openapi.json`` gets ``--examples`` valid requests and as many invalid
ones; every answer is checked against the document (status, content type, headers,
body schema) and for 5xx. Prints the figures and each distinct finding; exits 1 when
there is one."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from mainflux.bootstrap.settings import DEFAULT_ENCRYPT_KEY  # noqa: E402
from tests.contract import fuzz, provision  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the platform did not open port {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="valid requests per operation")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed")
    parser.add_argument("--url", default="", help="fuzz this running platform instead")
    parser.add_argument(
        "--bootstrap-key",
        default=DEFAULT_ENCRYPT_KEY,
        help="the platform's MF_BOOTSTRAP_ENCRYPT_KEY (with --url)",
    )
    args = parser.parse_args()
    proc = None
    url = args.url.rstrip("/")
    with tempfile.TemporaryDirectory() as data:
        if not url:
            port, mqtt, coap = _free_port(), _free_port(), _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
            env.update(
                MF_DATA_DIR=os.path.join(data, "data"),
                MF_GATEWAY_PORT=str(port),
                MF_GATEWAY_HOST="127.0.0.1",
                MF_MQTT_ADAPTER_MQTT_PORT=str(mqtt),
                MF_COAP_ADAPTER_PORT=str(coap),
            )
            log = open(os.path.join(data, "platform.log"), "w")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "mainflux.cli", "run"], env=env, stdout=log, stderr=log
            )
            _wait(port)
            url = f"http://127.0.0.1:{port}"
            with open(os.path.join(data, "data", "bootstrap.key")) as key_file:
                args.bootstrap_key = key_file.read().strip()  # the key the platform generated
        try:
            report = fuzz(
                url,
                provision(url, args.bootstrap_key),
                max_examples=args.examples,
                random_seed=args.seed,
                progress=lambda line: print(line, flush=True),
            )
        finally:
            if proc is not None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
    for label, counts in report.statuses.items():
        answered = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        print(f"  {label}  {answered}")
    print(f"fuzz: {report.summary()}")
    for finding in report.findings:
        print(f"\n=== {finding.operation}: {finding.title}\n{finding.detail}")
    return 1 if report.findings or report.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
