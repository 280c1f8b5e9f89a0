"""Bounded reassembly of block-wise requests (RFC 7959 Block1).

aiocoap's own spool keeps any number of transfers of any size; this one holds at most
``max_transfers`` at once, each at most ``max_payload`` bytes, and forgets a transfer
after ``lifetime`` seconds without a block. A block that breaks the rules raises
:class:`BlockError` with the CoAP code to answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

from aiocoap import numbers

DEFAULT_MAX_TRANSFERS: Final = 1024
#: RFC 7252's EXCHANGE_LIFETIME is about 247 s; a device sends its blocks back to back.
DEFAULT_LIFETIME: Final = 60.0


class BlockError(Exception):
    """A block that cannot be taken: answer with ``code``."""

    def __init__(self, code: numbers.Code, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(slots=True)
class _Transfer:
    body: bytearray
    expires: float


class Assemblies:
    """Block-wise request bodies being received (see the module doc)."""

    def __init__(
        self,
        max_payload: int,
        *,
        max_transfers: int = DEFAULT_MAX_TRANSFERS,
        lifetime: float = DEFAULT_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_payload = max_payload
        self.max_transfers = max_transfers
        self.lifetime = lifetime
        self._clock = clock
        self._transfers: dict[Hashable, _Transfer] = {}

    def __len__(self) -> int:
        return len(self._transfers)

    def feed(
        self, key: Hashable, number: int, more: bool, size: int, payload: bytes
    ) -> bytes | None:
        """Take block ``number`` (of ``size`` bytes per block) of the transfer ``key``;
        return the whole body after the last block, ``None`` while more must come.

        Raises :class:`BlockError`: 4.13 when the body would exceed ``max_payload``,
        4.08 for a block out of order or of an unknown transfer, 4.00 for a non-final
        block whose length is not the block size, 5.03 when ``max_transfers`` are
        under way."""
        now = self._clock()
        start = number * size
        if start + len(payload) > self.max_payload:
            self._transfers.pop(key, None)
            raise BlockError(numbers.REQUEST_ENTITY_TOO_LARGE, "body too large")
        if more and len(payload) != size:
            self._transfers.pop(key, None)
            raise BlockError(numbers.BAD_REQUEST, "block length is not the block size")
        if number == 0:
            if not more:
                return payload
            self._expire(now)
            if key not in self._transfers and len(self._transfers) >= self.max_transfers:
                raise BlockError(numbers.SERVICE_UNAVAILABLE, "too many transfers")
            self._transfers[key] = _Transfer(bytearray(payload), now + self.lifetime)
            return None
        transfer = self._transfers.get(key)
        if transfer is None or transfer.expires <= now or len(transfer.body) != start:
            self._transfers.pop(key, None)
            raise BlockError(numbers.REQUEST_ENTITY_INCOMPLETE, "block out of order")
        transfer.body += payload
        if more:
            transfer.expires = now + self.lifetime
            return None
        del self._transfers[key]
        return bytes(transfer.body)

    def _expire(self, now: float) -> None:
        for key in [k for k, t in self._transfers.items() if t.expires <= now]:
            del self._transfers[key]
