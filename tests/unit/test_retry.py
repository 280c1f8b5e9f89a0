"""Retry with backoff: growing delays, a stop event that cuts waits short."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mainflux.core.retry import Backoff, retry, wait_or_stop


def test_delays_grow_by_the_factor_up_to_the_cap_and_reset_starts_over() -> None:
    backoff = Backoff(first=0.2, most=1.0, factor=2.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay() == 0.2


@pytest.mark.parametrize(
    ("first", "most", "factor"),
    [(0, 1, 2), (-1, 1, 2), (2, 1, 2), (0.1, 1, 0.5)],
    ids=["zero-first", "negative-first", "cap-below-first", "shrinking"],
)
def test_nonsense_backoffs_are_refused(first: float, most: float, factor: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first, most, factor)


async def test_retry_returns_the_first_success_after_logging_each_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "up"

    with caplog.at_level(logging.WARNING, "mainflux.retry"):
        got = await retry(flaky, asyncio.Event(), what="the server", backoff=Backoff(0.001))
    assert got == "up"
    assert len(calls) == 3
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "the server failed (ConnectionError: refused); retrying in 0.0s",
        "the server failed (ConnectionError: refused); retrying in 0.0s",
    ]


async def test_retry_makes_no_attempt_once_stop_is_set() -> None:
    stop = asyncio.Event()
    stop.set()

    async def never() -> None:
        raise AssertionError("attempted after stop")

    assert await retry(never, stop, what="x") is None


async def test_stop_ends_a_long_backoff_at_once_and_no_attempt_follows() -> None:
    stop = asyncio.Event()
    calls: list[int] = []

    async def down() -> None:
        calls.append(1)
        asyncio.get_running_loop().call_soon(stop.set)  # asked to stop mid-backoff
        raise ConnectionError("down")

    # An hour's first delay: only the stop event can end this within the bound.
    got = await asyncio.wait_for(retry(down, stop, what="x", backoff=Backoff(3600.0, 3600.0)), 10)
    assert got is None
    assert calls == [1]


async def test_errors_outside_retry_on_propagate() -> None:
    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await retry(broken, asyncio.Event(), what="x", retry_on=ConnectionError)


async def test_wait_or_stop_says_whether_stop_was_set() -> None:
    stop = asyncio.Event()
    assert await wait_or_stop(stop, 0.001) is False
    stop.set()
    assert await asyncio.wait_for(wait_or_stop(stop, 3600.0), 10) is True
