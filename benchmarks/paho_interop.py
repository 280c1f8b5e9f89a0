"""Run the Eclipse Paho MQTT 3.1.1 interoperability tests against a broker.

The suite (``eclipse/paho.mqtt.testing``, ``interoperability/client_test.py``) lives
outside this project; point ``--paho`` at a checkout of it. Its own command line
ignores host and port, so this runner imports its test case, sets them, and runs it.

    .venv/bin/python benchmarks/paho_interop.py --paho /tmp/paho-testing
        # starts `mainflux-mqtt --standalone` on a free port (refusing the filter
        # test/nosubscribe, as the suite expects) and tests it
    .venv/bin/python benchmarks/paho_interop.py --paho /tmp/paho-testing --port 1883
        # tests whatever listens on 127.0.0.1:1883 (e.g. Mosquitto)

Prints one line per test and ``passed N of M``."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import unittest
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOSUBSCRIBE = "test/nosubscribe"  # the filter the suite expects a broker to refuse


def free_port() -> int:
    """A TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def standalone_broker() -> Iterator[int]:
    """Start ``mainflux-mqtt --standalone`` on a free port; yield the port."""
    port = free_port()
    env = dict(
        os.environ,
        MF_MQTT_ADAPTER_MQTT_PORT=str(port),
        MF_MQTT_ADAPTER_WS_PORT=str(free_port()),
        MF_MQTT_ADAPTER_LOG_LEVEL="error",
        MF_MQTT_ADAPTER_STANDALONE_REFUSED_FILTERS=NOSUBSCRIBE,
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from mainflux.adapters.mqtt.main import main; main()",
            "--standalone",
        ],
        env=env,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def run_suite(paho: Path, host: str, port: int) -> tuple[int, int]:
    """Run the suite's ``Test`` case against ``host:port``; return (passed, total)."""
    sys.path.insert(0, str(paho / "interoperability"))
    import client_test  # type: ignore[import-not-found]

    client_test.host = host
    client_test.port = port
    client_test.topics = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
    client_test.wildtopics = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
    client_test.nosubscribe_topics = (NOSUBSCRIBE,)
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(client_test.Test)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    return result.testsRun - failed, result.testsRun


def main() -> None:
    """Parse the command line, run the suite, print the tally."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paho", type=Path, default=Path("/tmp/paho-testing"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: start our standalone broker")
    args = parser.parse_args()
    if not (args.paho / "interoperability" / "client_test.py").exists():
        raise SystemExit(f"{args.paho}: not a checkout of eclipse/paho.mqtt.testing")
    if args.port:
        passed, total = run_suite(args.paho, args.host, args.port)
        target = f"{args.host}:{args.port}"
    else:
        with standalone_broker() as port:
            passed, total = run_suite(args.paho, "127.0.0.1", port)
        target = f"mainflux-mqtt --standalone on port {port}"
    print(f"paho interoperability ({target}): passed {passed} of {total}, failed {total - passed}")


if __name__ == "__main__":
    main()
