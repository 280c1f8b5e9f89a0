"""Refused connections, logged without letting a hostile client flood the log.

Every refusal (a bad key, a client id too long, a silent socket, the connection bound
reached, ...) is logged at debug. The first refusal of each cause is also logged at
info, and after that at most one info line per cause and ``interval`` saying how many
more there were. Nothing a client does is logged as an error or with a traceback; a
cause on the server's side (the things service unreachable) is a warning, as sparing."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

log = logging.getLogger("mainflux.mqtt")

INTERVAL: Final = 60.0


class Notices:
    """Counts refusals by cause and logs them sparingly (see the module doc)."""

    def __init__(
        self,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.interval = interval
        self.counts: dict[str, int] = {}  # refusals by cause since start
        self._clock = clock
        self._log = logger
        self._last: dict[str, tuple[float, int]] = {}  # cause -> (logged at, count then)

    def refused(
        self, cause: str, client: str = "", detail: str = "", level: int = logging.INFO
    ) -> None:
        """Note one refusal of ``cause`` (a fixed text: it is the counting key);
        ``client`` is the client id when known, ``detail`` what exactly was wrong,
        ``level`` that of the sparing lines."""
        count = self.counts.get(cause, 0) + 1
        self.counts[cause] = count
        what = f"{cause}: {detail}" if detail else cause
        who = client or "(no client id)"
        self._log.debug("mqtt: refused %s: %s", who, what)
        now = self._clock()
        last = self._last.get(cause)
        if last is None:
            self._last[cause] = (now, count)
            self._log.log(
                level, "mqtt: refused %s: %s (further refusals for this cause: at debug)", who, what
            )
        elif now - last[0] >= self.interval:
            self._last[cause] = (now, count)
            self._log.log(
                level,
                "mqtt: %d connections refused in the last %.0f s: %s",
                count - last[1],
                now - last[0],
                cause,
            )
