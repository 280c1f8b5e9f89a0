"""How a message writer decodes, subscribes and batches: ``MF_POSTGRES_WRITER_*``.

The ``mainflux-postgres-writer`` process and the all-in-one read the same variables,
on NATS also those of the JetStream stream and consumer (:class:`JetStreamSettings`,
:func:`durable_setting`); the process's other settings are in
:mod:`mainflux.writers.main`."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mainflux.core.config import ConfigError, env
from mainflux.core.settings import Environ, derived, setting
from mainflux.messaging.envelope import ALL_CHANNELS
from mainflux.messaging.jetstream import (
    DEAD_LETTER_PREFIX,
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_BYTES,
    DEFAULT_STREAM,
    ConsumerSettings,
)
from mainflux.messaging.subjects import is_filter
from mainflux.transformers import json as json_transformer
from mainflux.transformers import senml

PREFIX: Final = "MF_POSTGRES_WRITER"
CONTENT_TYPE: Final = f"{PREFIX}_CONTENT_TYPE"
SUBJECTS_CONFIG: Final = f"{PREFIX}_SUBJECTS_CONFIG"
BATCH_TIMEOUT: Final = f"{PREFIX}_BATCH_TIMEOUT"
DURABLE: Final = f"{PREFIX}_DURABLE"
DEFAULT_SUBJECTS_FILE: Final = "/config/subjects.toml"
DEFAULT_QUEUE_SIZE: Final = 10_000
_DURATION: Final = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*")


def parse_duration(raw: str, setting: str) -> float:
    """Seconds from ``100ms``, ``0.5s`` or a bare number of milliseconds.

    Raises :class:`ConfigError` naming ``setting``."""
    match = _DURATION.fullmatch(raw)
    if match is None:
        raise ConfigError(f"{setting}: expected a duration such as 100ms or 1s, got {raw!r}")
    number = float(match.group(1))
    return number if match.group(2) == "s" else number / 1000


def load_subjects(path: str, setting: str) -> tuple[str, ...]:
    """The ``[subjects] filter`` list of a ``subjects.toml`` file.

    A missing file means ``channels.>``, as in Mainflux. A file that is not TOML or
    does not hold a non-empty list of NATS subjects raises :class:`ConfigError`."""
    file = Path(path)
    if not file.is_file():
        return (ALL_CHANNELS,)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc}") from None
    section = data.get("subjects")
    subjects = section.get("filter") if isinstance(section, dict) else None
    if (
        not isinstance(subjects, list)
        or not subjects
        or not all(isinstance(s, str) and is_filter(s) for s in subjects)
    ):
        raise ConfigError(
            f"{setting}: {path} must hold [subjects] filter = a list of NATS subjects"
        )
    return tuple(dict.fromkeys(subjects))


def _content_type(environ: Environ) -> str:
    """Like Mainflux, any value but SenML CBOR or plain JSON means SenML JSON."""
    content = env(CONTENT_TYPE, senml.JSON, environ)
    return content if content in (senml.CBOR, json_transformer.CONTENT_TYPE) else senml.JSON


def _subjects(environ: Environ) -> tuple[str, ...]:
    return load_subjects(env(SUBJECTS_CONFIG, DEFAULT_SUBJECTS_FILE, environ), SUBJECTS_CONFIG)


def _batch_timeout(environ: Environ) -> float:
    return parse_duration(env(BATCH_TIMEOUT, "100ms", environ), BATCH_TIMEOUT)


@dataclass(frozen=True, slots=True)
class WriterSettings:
    """How a writer decodes payloads, what it subscribes to and how it batches.

    ``content_type`` is ``application/senml+json`` (also for unknown values, like
    Mainflux), ``application/senml+cbor`` or ``application/json`` (plain JSON)."""

    content_type: str = derived(
        _content_type,
        [
            (
                CONTENT_TYPE,
                senml.JSON,
                f"payload format: {senml.JSON}, {senml.CBOR} or "
                f"{json_transformer.CONTENT_TYPE} (anything else: {senml.JSON})",
            )
        ],
        default=senml.JSON,
    )
    subjects: tuple[str, ...] = derived(
        _subjects,
        [
            (
                SUBJECTS_CONFIG,
                DEFAULT_SUBJECTS_FILE,
                f"TOML file: [subjects] filter = [NATS subjects] (no file: {ALL_CHANNELS})",
            )
        ],
        default=(ALL_CHANNELS,),
    )
    batch_size: int = setting(
        f"{PREFIX}_BATCH_SIZE", 1000, "messages stored per transaction at most", minimum=1
    )
    batch_timeout: float = derived(
        _batch_timeout,
        [(BATCH_TIMEOUT, "100ms", "longest wait for a batch to fill (100ms, 1s; bare: ms)")],
        default=0.1,
    )
    queue_size: int | None = setting(
        f"{PREFIX}_QUEUE_SIZE",
        None,
        "messages waiting for storage at most",
        minimum=1,
        shown=f"max({DEFAULT_QUEUE_SIZE}, 2 x batch size)",
    )

    @property
    def max_pending(self) -> int:
        """``queue_size``, or when unset twice the batch size and at least 10,000."""
        return self.queue_size or max(DEFAULT_QUEUE_SIZE, 2 * self.batch_size)


def _nats_name(what: str) -> Any:
    def check(name: str) -> None:
        if any(c in name for c in " .*>"):
            raise ValueError(f"not a valid {what} name: {name!r}")

    return check


def durable_setting(
    default: str, help: str = "durable consumer name, shared by every instance"
) -> Any:
    """``MF_POSTGRES_WRITER_DURABLE``, the durable JetStream consumer's name, with the
    deployment's own ``default`` (processes sharing a name share the messages)."""
    return setting(DURABLE, default, help, check=_nats_name("consumer"))


@dataclass(frozen=True, slots=True)
class JetStreamSettings:
    """Where a writer on NATS keeps messages until they are stored: the JetStream
    stream it reads (created with these bounds when none captures ``channels.>``) and
    how its durable consumer redelivers and parks."""

    stream: str = setting(
        f"{PREFIX}_STREAM",
        DEFAULT_STREAM,
        f"JetStream stream, created when none captures {ALL_CHANNELS}",
        check=_nats_name("stream"),
    )
    stream_max_age: float = setting(
        f"{PREFIX}_STREAM_MAX_AGE",
        DEFAULT_MAX_AGE,
        "seconds a created stream keeps a message (0: no age limit)",
        minimum=0,
    )
    stream_max_bytes: int = setting(
        f"{PREFIX}_STREAM_MAX_BYTES",
        DEFAULT_MAX_BYTES,
        "bytes a created stream keeps at most, the oldest dropped first (0: no limit)",
        minimum=0,
    )
    max_deliver: int = setting(
        f"{PREFIX}_MAX_DELIVER",
        5,
        f"deliveries of a message that fails to store before it is parked on "
        f"{DEAD_LETTER_PREFIX}.<durable>.<subject>",
        minimum=1,
    )
    ack_wait: float = setting(
        f"{PREFIX}_ACK_WAIT",
        30.0,
        "seconds before an unacknowledged message is delivered again",
        minimum=1,
    )

    def consumer(self, durable: str, writer: WriterSettings) -> ConsumerSettings:
        """The durable consumer named ``durable`` that pulls ``writer``'s subjects and
        batches."""
        return ConsumerSettings(
            durable=durable,
            subjects=writer.subjects,
            batch_size=writer.batch_size,
            batch_timeout=writer.batch_timeout,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
        )
