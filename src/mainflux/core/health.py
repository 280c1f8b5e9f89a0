"""What ``/health`` reports: the state of the dependencies a process relies on.

A service registers one probe per dependency while it holds it (:func:`watching`):
its database, its NATS connection, its Redis event stream, the things service an
adapter asks. ``GET /health`` answers 503 naming the failing dependency when one is
down, 200 when all are up. Probes are cheap and bounded: each runs at most once per
``MF_HEALTH_INTERVAL`` seconds whatever the request rate (answers in between come from
the last round, and concurrent requests share one round), and each is cut after
``MF_HEALTH_TIMEOUT`` seconds.

The registry is the process's: every app a process serves reports the dependencies of
that process (in the all-in-one, all services share them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mainflux.core.config import env_float

log = logging.getLogger("mainflux.health")

#: Raises (anything) when the dependency is down; returns when it is up.
Probe = Callable[[], Awaitable[None]]

INTERVAL_VAR: Final = "MF_HEALTH_INTERVAL"
TIMEOUT_VAR: Final = "MF_HEALTH_TIMEOUT"
DEFAULT_INTERVAL: Final = 3.0
DEFAULT_TIMEOUT: Final = 2.0


@dataclass(frozen=True, slots=True)
class Timing:
    """How often probes may run and how long each may take (seconds)."""

    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Timing:
        """Read ``MF_HEALTH_*``; raises ``ConfigError`` naming a variable with a bad value."""
        return cls(
            interval=env_float(INTERVAL_VAR, DEFAULT_INTERVAL, minimum=0.1, environ=environ),
            timeout=env_float(TIMEOUT_VAR, DEFAULT_TIMEOUT, minimum=0.1, environ=environ),
        )


class HealthChecks:
    """Named probes and the cached outcome of their last round."""

    def __init__(self) -> None:
        self._probes: dict[str, list[Probe]] = {}
        self._results: dict[str, str | None] = {}
        self._checked = -float("inf")
        self._round: asyncio.Task[dict[str, str | None]] | None = None

    def add(self, name: str, probe: Probe) -> None:
        """Watch one more dependency under ``name`` (several probes may share one)."""
        self._probes.setdefault(name, []).append(probe)
        self._checked = -float("inf")

    def remove(self, name: str, probe: Probe) -> None:
        """Stop watching what :meth:`add` registered."""
        probes = self._probes.get(name, [])
        if probe in probes:
            probes.remove(probe)
        if not probes:
            self._probes.pop(name, None)
        self._checked = -float("inf")

    async def results(self, timing: Timing) -> dict[str, str | None]:
        """Each dependency's failure (``None`` when up), at most ``timing.interval``
        seconds old."""
        if time.monotonic() - self._checked < timing.interval:
            return dict(self._results)
        loop = asyncio.get_running_loop()
        if self._round is None or self._round.done() or self._round.get_loop() is not loop:
            self._round = loop.create_task(self._run(timing.timeout))
        return dict(await asyncio.shield(self._round))

    async def _run(self, timeout: float) -> dict[str, str | None]:
        named = [(name, probe) for name, probes in self._probes.items() for probe in probes]
        outcomes = await asyncio.gather(*(_attempt(p, timeout) for _, p in named))
        results: dict[str, str | None] = {name: None for name, _ in named}
        for (name, _), failure in zip(named, outcomes, strict=True):
            if failure is not None:
                if results[name] is None:
                    log.warning("health: %s is down: %s", name, failure)
                results[name] = failure
        self._results = results
        self._checked = time.monotonic()
        return results


async def _attempt(probe: Probe, timeout: float) -> str | None:
    try:
        await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # any failure of the dependency is its state, not ours
        return _describe(exc)
    return None


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: The process's registry, read by every ``/health`` route.
CHECKS: Final = HealthChecks()


#: The thing key the things probe identifies: no thing has it, so a refusal is the
#: healthy answer.
PROBE_KEY: Final = "mainflux-health-probe"


def watch(probes: Mapping[str, Probe | None]) -> Callable[[], None]:
    """Register ``probes`` (a ``None`` one is skipped); returns what unregisters them."""
    added = [(name, probe) for name, probe in probes.items() if probe is not None]
    for name, probe in added:
        CHECKS.add(name, probe)

    def unwatch() -> None:
        for name, probe in added:
            CHECKS.remove(name, probe)

    return unwatch


@contextlib.contextmanager
def watching(probes: Mapping[str, Probe | None]) -> Iterator[None]:
    """Register ``probes`` (a ``None`` one is skipped) for the duration of the block."""
    unwatch = watch(probes)
    try:
        yield
    finally:
        unwatch()


def database_probe(engine: Any) -> Probe:
    """A fresh query on a SQLAlchemy async engine (``SELECT 1``)."""
    import sqlalchemy as sa

    async def probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    return probe


def ping_probe(client: Any) -> Probe:
    """``await client.ping()`` (a Redis event stream, an access cache)."""

    async def probe() -> None:
        await client.ping()

    return probe


def nats_probe(client: Any) -> Probe:
    """A NATS connection (nats-py ``Client``) that is connected and answers a PING."""

    async def probe() -> None:
        if not client.is_connected:
            raise ConnectionError("not connected")
        await client.flush(timeout=5)

    return probe


def answering_probe(call: Callable[[], Awaitable[Any]], *, down: type[BaseException]) -> Probe:
    """A service that answers ``call()``: only ``down`` (e.g. ``ServiceUnavailable``)
    counts as a failure; a refusal or any other answer shows it is up."""

    async def probe() -> None:
        try:
            await call()
        except down:
            raise
        except Exception:
            return

    return probe
