"""``mainflux-postgres-writer`` and ``mainflux-postgres-reader`` as processes: ``--help``
lists every variable and starts nothing, an unknown argument or a bad value stops
start-up with one line (exit status 2) before anything is reached."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.servers import free_port

WRITER = "mainflux.writers.main"
READER = "mainflux.readers.main"


def _run(module: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    # Nothing answers here: a process that got as far as connecting would wait and say so.
    unreachable = str(free_port())
    environ.update(
        MF_NATS_URL=f"nats://127.0.0.1:{unreachable}",
        MF_POSTGRES_WRITER_DB_HOST="127.0.0.1",
        MF_POSTGRES_WRITER_DB_PORT=unreachable,
        MF_POSTGRES_READER_DB_HOST="127.0.0.1",
        MF_POSTGRES_READER_DB_PORT=unreachable,
    )
    environ.update(settings)
    return subprocess.run(
        [sys.executable, "-c", f"from {module} import main; main()", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _documented(stdout: str) -> dict[str, str]:
    """Variable -> default, from the table after ``Environment variables:``."""
    table = stdout.split("Environment variables:\n", 1)[1]
    return {line.split()[0]: line.split()[1] for line in table.splitlines()}


DB_DEFAULTS = {
    "DB_HOST": "localhost",
    "DB_PORT": "5432",
    "DB_USER": "mainflux",
    "DB_PASS": "mainflux",
    "DB": "messages",
    "DB_SSL_MODE": "disable",
}


def test_writer_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    done = _run(WRITER, "--help")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: mainflux-postgres-writer [--help]")
    w = "MF_POSTGRES_WRITER_"
    assert _documented(done.stdout) == {
        f"{w}PORT": "9104",
        **{f"{w}{name}": value for name, value in DB_DEFAULTS.items()},
        "MF_NATS_URL": "nats://localhost:4222",
        f"{w}STREAM": "MAINFLUX_MESSAGES",
        f"{w}STREAM_MAX_AGE": "604800",
        f"{w}STREAM_MAX_BYTES": "1073741824",
        f"{w}MAX_DELIVER": "5",
        f"{w}DURABLE": "postgres-writer",
        f"{w}ACK_WAIT": "30",
        f"{w}CONTENT_TYPE": "application/senml+json",
        f"{w}SUBJECTS_CONFIG": "/config/subjects.toml",
        f"{w}BATCH_SIZE": "1000",
        f"{w}BATCH_TIMEOUT": "100ms",
        f"{w}QUEUE_SIZE": "max(10000,",
        f"{w}SERVER_CERT": "(unset)",
        f"{w}SERVER_KEY": "(unset)",
        f"{w}LOG_LEVEL": "info",
    }


def test_reader_help_lists_every_variable_with_its_default_and_starts_nothing() -> None:
    done = _run(READER, "--help")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: mainflux-postgres-reader [--help]")
    r = "MF_POSTGRES_READER_"
    assert _documented(done.stdout) == {
        f"{r}PORT": "9204",
        **{f"{r}{name}": value for name, value in DB_DEFAULTS.items()},
        "MF_THINGS_AUTH_GRPC_URL": "localhost:8183",
        "MF_THINGS_AUTH_GRPC_TIMEOUT": "1",
        "MF_THINGS_URL": "(unset)",
        f"{r}SERVER_CERT": "(unset)",
        f"{r}SERVER_KEY": "(unset)",
        f"{r}CLIENT_TLS": "false",
        f"{r}CA_CERTS": "(system",
        f"{r}LOG_LEVEL": "info",
    }


@pytest.mark.parametrize(
    ("module", "prog"),
    [(WRITER, "mainflux-postgres-writer"), (READER, "mainflux-postgres-reader")],
    ids=["writer", "reader"],
)
def test_an_unknown_argument_is_one_line_and_exit_2(module: str, prog: str) -> None:
    done = _run(module, "--verbose")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"{prog}: unexpected argument '--verbose' (see {prog} --help)"
    ]


BAD = [
    ("writer durable", WRITER, "MF_POSTGRES_WRITER_DURABLE", "two words"),
    ("writer stream", WRITER, "MF_POSTGRES_WRITER_STREAM", "a.b"),
    ("writer batch timeout", WRITER, "MF_POSTGRES_WRITER_BATCH_TIMEOUT", "soon"),
    ("writer queue", WRITER, "MF_POSTGRES_WRITER_QUEUE_SIZE", "0"),
    ("writer max deliver", WRITER, "MF_POSTGRES_WRITER_MAX_DELIVER", "0"),
    ("writer stream bytes", WRITER, "MF_POSTGRES_WRITER_STREAM_MAX_BYTES", "-1"),
    ("writer nats url", WRITER, "MF_NATS_URL", "http://nats:4222"),
    ("reader things url", READER, "MF_THINGS_URL", "ftp://things"),
    ("reader grpc timeout", READER, "MF_THINGS_AUTH_GRPC_TIMEOUT", "0"),
    ("reader log level", READER, "MF_POSTGRES_READER_LOG_LEVEL", "chatty"),
]


@pytest.mark.parametrize(("module", "name", "raw"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_value_stops_start_up_in_one_line_naming_it(module: str, name: str, raw: str) -> None:
    done = _run(module, **{name: raw})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mainflux: {name}: "), done.stderr
