"""A writer's settings, read once from ``MF_<PREFIX>_*`` variables."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from mainflux.core.config import ConfigError, env, env_int
from mainflux.messaging.envelope import ALL_CHANNELS
from mainflux.transformers import json as json_transformer
from mainflux.transformers import senml

DEFAULT_SUBJECTS_FILE: Final = "/config/subjects.toml"
_DURATION: Final = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*")
_SUBJECT: Final = re.compile(r"[^\s.]+(\.[^\s.]+)*")


@dataclass(frozen=True, slots=True)
class WriterSettings:
    """How a writer decodes payloads, what it subscribes to and how it batches.

    ``content_type`` is ``application/senml+json`` (also for unknown values, like
    Mainflux), ``application/senml+cbor`` or ``application/json`` (plain JSON)."""

    content_type: str = senml.JSON
    subjects: tuple[str, ...] = (ALL_CHANNELS,)
    batch_size: int = 1000
    batch_timeout: float = 0.1
    queue_size: int = 10_000

    @classmethod
    def from_env(
        cls, prefix: str = "MF_POSTGRES_WRITER", environ: Mapping[str, str] | None = None
    ) -> WriterSettings:
        """Read ``<prefix>_CONTENT_TYPE``, ``_SUBJECTS_CONFIG``, ``_BATCH_SIZE``,
        ``_BATCH_TIMEOUT`` and ``_QUEUE_SIZE``. Raises :class:`ConfigError`."""
        content = env(f"{prefix}_CONTENT_TYPE", senml.JSON, environ)
        if content not in (senml.CBOR, json_transformer.CONTENT_TYPE):
            content = senml.JSON
        batch_size = env_int(f"{prefix}_BATCH_SIZE", 1000, minimum=1, environ=environ)
        return cls(
            content_type=content,
            subjects=load_subjects(
                env(f"{prefix}_SUBJECTS_CONFIG", DEFAULT_SUBJECTS_FILE, environ),
                f"{prefix}_SUBJECTS_CONFIG",
            ),
            batch_size=batch_size,
            batch_timeout=parse_duration(
                env(f"{prefix}_BATCH_TIMEOUT", "100ms", environ), f"{prefix}_BATCH_TIMEOUT"
            ),
            queue_size=env_int(
                f"{prefix}_QUEUE_SIZE", max(10_000, 2 * batch_size), minimum=1, environ=environ
            ),
        )


def parse_duration(raw: str, setting: str) -> float:
    """Seconds from ``100ms``, ``0.5s`` or a bare number of milliseconds."""
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
        or not all(isinstance(s, str) and _valid_subject(s) for s in subjects)
    ):
        raise ConfigError(
            f"{setting}: {path} must hold [subjects] filter = a list of NATS subjects"
        )
    return tuple(dict.fromkeys(subjects))


def _valid_subject(subject: str) -> bool:
    if _SUBJECT.fullmatch(subject) is None:
        return False
    tokens = subject.split(".")
    return ">" not in tokens[:-1] and all(
        t in ("*", ">") or not {"*", ">"} & set(t) for t in tokens
    )
