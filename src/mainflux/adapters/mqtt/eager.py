"""Run a coroutine at once, as far as it goes without waiting.

A cached answer (``CachedThingAccess`` hit) finishes on its first step, so the broker
gets it synchronously and keeps the message path free of tasks. When the coroutine
does have to wait, what is left of it is returned as an awaitable to finish later."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Final

PENDING: Final[Any] = object()


class Started:
    """The rest of a coroutine that stopped on its first step; await it to finish."""

    __slots__ = ("_coro", "_yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._yielded = yielded

    def __await__(self) -> Any:
        coro = self._coro
        yielded = self._yielded
        while True:
            try:
                sent = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    yielded = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def run_eagerly(coro: Coroutine[Any, Any, Any]) -> tuple[Any, Started | None]:
    """Return ``(result, None)`` when ``coro`` finished at once, else ``(PENDING, rest)``.

    An exception raised on the first step propagates."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value, None
    return PENDING, Started(coro, yielded)
