"""Delivering password-reset mails: over SMTP, or into an outbox directory.

:class:`SmtpEmailer` sends through an SMTP server with the standard library's
``smtplib`` in a worker thread (STARTTLS when offered, PLAIN/LOGIN auth when a
password is set). :class:`OutboxEmailer` writes each mail as an ``.eml`` file, for
installations without a mail server; its log line names the file, never the link."""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
import time
import uuid
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from typing import Final

from mainflux.core.errors import ServiceUnavailable
from mainflux.users.ports import Emailer

log = logging.getLogger("mainflux.users.email")

SUBJECT: Final = "Password reset"
#: RFC 5322 lines (CRLF, up to 998 characters), so the link stays on one line.
_POLICY: Final = policy.SMTP.clone(max_line_length=998)
_BODY: Final = (
    "You have initiated a password reset.\n"
    "Follow the link below to set a new password; it is valid for 5 minutes.\n\n"
    "{link}\n\n"
    "If you did not ask for this, ignore this mail.\n"
)


def reset_message(to: str, link: str, sender: str) -> EmailMessage:
    """The password-reset mail to ``to`` carrying ``link``."""
    message = EmailMessage(policy=_POLICY)
    message["To"] = to
    message["From"] = sender
    message["Subject"] = SUBJECT
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="mainflux")
    message.set_content(_BODY.format(link=link))
    return message


class SmtpEmailer:
    """Sends reset mails through an SMTP server (Mainflux's ``MF_EMAIL_*`` settings).

    Without ``from_address`` the mail comes from ``noreply@<host>``."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        username: str = "",
        password: str = "",
        from_address: str = "",
        from_name: str = "",
        *,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._sender = formataddr((from_name, from_address or f"noreply@{host}"))
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SmtpEmailer(host={self._host!r}, port={self._port})"

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if self._password:
                smtp.login(self._username, self._password)
            smtp.send_message(message)

    async def send_password_reset(self, to: str, link: str) -> None:
        """Send the reset mail. Raises ``ServiceUnavailable`` when the server refuses."""
        message = reset_message(to, link, self._sender)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            log.error("reset mail for %s not sent: %s", to, type(exc).__name__)
            raise ServiceUnavailable("failed to send the reset email") from None


class OutboxEmailer:
    """Writes each reset mail as an ``.eml`` file into ``directory`` (created on first use).

    Files are readable by their owner only, since they carry a recovery token."""

    def __init__(self, directory: str | os.PathLike[str], sender: str = "mainflux") -> None:
        self._directory = Path(directory)
        self._sender = sender

    def _write(self, message: EmailMessage) -> Path:
        self._directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"
        partial = self._directory / f".{name}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(message.as_bytes())
        path = self._directory / f"{name}.eml"
        os.replace(partial, path)  # an .eml file appears complete, never half-written
        return path

    async def send_password_reset(self, to: str, link: str) -> None:
        """Write the reset mail. Raises ``ServiceUnavailable`` when it cannot be written."""
        message = reset_message(to, link, self._sender)
        try:
            path = await asyncio.to_thread(self._write, message)
        except OSError as exc:
            log.error("reset mail for %s not written: %s", to, exc.strerror)
            raise ServiceUnavailable("failed to write the reset email") from None
        log.info("reset mail for %s written to %s", to, path)


_smtp: type[Emailer] = SmtpEmailer
_outbox: type[Emailer] = OutboxEmailer
