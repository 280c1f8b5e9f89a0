"""Keeping credentials out of what the platform prints.

Service URLs may carry a password (``redis://:pw@host``, ``postgresql://user:pw@host/db``,
``nats://user:pw@host``) or a token (``nats://token@host``). :func:`redact_url` and
:func:`redact_text` replace it with ``***``; :class:`RedactingFilter`, installed on the
logging handlers by :func:`install_log_redaction`, does the same to every log record,
so a library that logs a URL does not leak it either."""

from __future__ import annotations

import logging
import re
from typing import Final

MASK: Final = "***"

# ``scheme://userinfo@``: the user info stops at the first character that cannot be part
# of an authority; it is greedy so a password holding an unescaped ``@`` is covered whole.
_CREDENTIALS: Final = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^\s/?#@]*(?:@[^\s/?#@]*)*)@"
)


def _mask(match: re.Match[str]) -> str:
    info = match.group("info")
    user, colon, _ = info.partition(":")
    # ``user:password`` keeps the user; a lone value may be a token, so it goes entirely.
    masked = f"{user}:{MASK}" if colon else MASK
    return f"{match.group('scheme')}{masked}@"


def redact_text(text: str) -> str:
    """``text`` with the password (or token) of every URL in it replaced by ``***``."""
    if "://" not in text:
        return text
    return _CREDENTIALS.sub(_mask, text)


def redact_url(url: str) -> str:
    """``url`` with its password (or token) replaced by ``***``; the rest is kept."""
    return redact_text(url)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts URL credentials in the message and the traceback.

    It never drops a record; it rewrites the record's message in place (so the arguments
    are merged into it) only when something had to be masked."""

    _formatter: Final = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's business, not ours
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactingFilter` to every handler of ``logger`` (the root logger by
    default), once; call it after the handlers are configured."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
