"""Logging refused clients without letting them flood the log.

A refused request (a wrong key, a full adapter, ...) is the client's problem, not the
server's: it is never an error and never carries a traceback. :class:`RefusalLog`
writes one INFO line the first time a cause is seen in the process and DEBUG lines for
every refusal after it, so a client hammering with a bad key costs one line at the
default level. Keys never appear: only the cause and the client's address."""

from __future__ import annotations

import logging
from typing import Final

from starlette.types import Scope

_MAX_CAUSES: Final = 64  # causes are a fixed vocabulary; this only bounds a mistake


class RefusalLog:
    """Logs refusals once per cause at INFO, then at DEBUG (see the module doc)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        """``what`` names the refused thing in each line ("WebSocket handshake")."""
        self._log = logger
        self._what = what
        self._seen: set[str] = set()

    def note(self, cause: str, scope: Scope) -> None:
        """Log one refusal of the request in ``scope`` because of ``cause``."""
        client = scope.get("client")
        where = f"{client[0]}:{client[1]}" if client else "an unknown client"
        if cause in self._seen or len(self._seen) >= _MAX_CAUSES:
            self._log.debug("%s refused (%s) from %s", self._what, cause, where)
            return
        self._seen.add(cause)
        self._log.info(
            "%s refused (%s) from %s; more refusals for this cause are logged at debug level",
            self._what,
            cause,
            where,
        )
