"""Concurrent lookups answered together (mainflux.core.batch)."""

from __future__ import annotations

import asyncio

import pytest

from mainflux.core.batch import Batched
from tests.servers import until


class Answers:
    """Squares of the even numbers asked; each call waits for ``gate`` while it is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def __call__(self, keys: list[int]) -> dict[int, int]:
        self.batches.append(keys)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("database unavailable")
        return {k: k * k for k in keys if k % 2 == 0}


async def test_keys_asked_while_a_batch_runs_go_together_in_the_next() -> None:
    answers = Answers()
    answers.gate = asyncio.Event()
    batched = Batched(answers, most=3)
    first = asyncio.ensure_future(batched.get(0))
    await until(lambda: answers.batches, "the first batch started, with the only key asked")
    rest = [asyncio.ensure_future(batched.get(k)) for k in (1, 2, 3, 4, 2)]
    answers.gate.set()
    assert await first == 0
    assert [await r for r in rest] == [None, 4, None, 16, 4]
    assert answers.batches == [[0], [1, 2, 3], [4]]


async def test_an_error_reaches_every_key_of_its_batch_and_the_next_batch_runs() -> None:
    answers = Answers()
    answers.fail = True
    batched = Batched(answers)
    results = await asyncio.gather(*(batched.get(k) for k in (2, 4)), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    answers.fail = False
    assert await batched.get(2) == 4


async def test_a_waiter_that_leaves_does_not_cancel_the_others() -> None:
    answers = Answers()
    answers.gate = asyncio.Event()
    batched = Batched(answers)
    leaving = asyncio.ensure_future(batched.get(6))
    staying = asyncio.ensure_future(batched.get(6))
    await until(lambda: answers.batches, "the batch started")
    leaving.cancel()
    answers.gate.set()
    assert await staying == 36
    with pytest.raises(asyncio.CancelledError):
        await leaving


def test_a_batch_holds_at_least_one_key() -> None:
    with pytest.raises(ValueError):
        Batched(Answers(), most=0)
