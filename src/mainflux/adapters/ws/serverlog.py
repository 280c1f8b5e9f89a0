"""Keeping the server's log free of errors that are the client's doing.

uvicorn's ``websockets-sansio`` protocol logs two things at ERROR that a client causes
on purpose or by mistake, not the server:

- "ASGI callable returned without completing handshake." after every denial response
  (the ``websocket.http.response`` extension), although the client got its answer
  (uvicorn pull request #3138). :func:`mark_denied` notes, in the context of the
  connection's task, that this app answered on purpose, and the line is dropped for such
  connections only, so it still shows for any other app.
- "Invalid UTF-8 sequence received from client.", with a traceback, for a text message
  that is not UTF-8; the client is closed with 1007 either way. It is lowered to DEBUG,
  without the traceback.

:func:`install` puts one :class:`ClientFaultFilter` on the ``uvicorn.error`` logger. The
filter becomes dead code once uvicorn itself treats these as the client's business."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Final

SERVER_LOGGER: Final = "uvicorn.error"
_DENIED_LINE: Final = "ASGI callable returned without completing handshake."
_BAD_UTF8_LINE: Final = "Invalid UTF-8 sequence received from client."
_denied: ContextVar[bool] = ContextVar("mainflux_ws_denied", default=False)


def mark_denied() -> None:
    """Note that this connection's handshake was answered with a denial response."""
    _denied.set(True)


class ClientFaultFilter(logging.Filter):
    """Drops or lowers the server's error lines about clients' faults (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _DENIED_LINE and _denied.get():
            return False
        if record.msg == _BAD_UTF8_LINE:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info, record.exc_text = None, None
            return logging.getLogger(SERVER_LOGGER).isEnabledFor(logging.DEBUG)
        return True


def install() -> None:
    """Put one :class:`ClientFaultFilter` on the server's logger (idempotent)."""
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, ClientFaultFilter) for f in logger.filters):
        logger.addFilter(ClientFaultFilter())
