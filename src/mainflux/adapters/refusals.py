"""Logging refused clients without letting them flood the log.

A refused request (a wrong key, a full adapter, ...) is the client's problem, not the
server's: it is never an error and never carries a traceback. :class:`RefusalLog`
writes one INFO line the first time a cause is seen in the process and DEBUG lines for
every refusal after it, so a client hammering with a bad key costs one line at the
default level. Keys never appear: only the cause and the client's address. Every
protocol adapter can use it: the address is a plain string (see
:func:`mainflux.adapters.asgi.client_address` for ASGI servers)."""

from __future__ import annotations

import logging
from typing import Final

_MAX_CAUSES: Final = 64  # causes are a fixed vocabulary; this only bounds a mistake


class RefusalLog:
    """Logs refusals once per cause at INFO, then at DEBUG (see the module doc)."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        """``what`` names the refused thing in each line ("WebSocket handshake")."""
        self._log = logger
        self._what = what
        self._seen: set[str] = set()

    def note(self, cause: str, client: str) -> None:
        """Log one refusal because of ``cause`` (a fixed text) of the client at the
        address ``client`` (``host:port``, or any text naming it)."""
        if cause in self._seen or len(self._seen) >= _MAX_CAUSES:
            self._log.debug("%s refused (%s) from %s", self._what, cause, client)
            return
        self._seen.add(cause)
        self._log.info(
            "%s refused (%s) from %s; more refusals for this cause are logged at debug level",
            self._what,
            cause,
            client,
        )
