"""Reset mails: into an outbox directory, and over SMTP to a small server speaking the protocol."""

from __future__ import annotations

import asyncio
import email
import logging
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mainflux.core.errors import ServiceUnavailable
from mainflux.users.email import OutboxEmailer, SmtpEmailer
from tests.servers import free_port

LINK = "http://ui.example.com/reset-request?token=" + "t" * 200


async def test_the_outbox_writes_one_private_eml_per_mail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    outbox = OutboxEmailer(tmp_path / "mail")
    await outbox.send_password_reset("alice@example.com", LINK)
    await outbox.send_password_reset("bob@example.com", LINK)
    paths = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(paths) == 2
    assert stat.S_IMODE(paths[0].stat().st_mode) == 0o600
    message = email.message_from_bytes(paths[0].read_bytes())
    assert message["Subject"] == "Password reset"
    assert LINK in message.get_payload(decode=True).decode().splitlines()
    lines = [r.getMessage() for r in caplog.records]
    assert f"reset mail for alice@example.com written to {paths[0]}" in lines
    assert all("token" not in line for line in lines)


async def test_an_unwritable_outbox_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ServiceUnavailable):
        await OutboxEmailer(blocker / "mail").send_password_reset("a@b.com", LINK)


@dataclass
class SmtpSink:
    """A minimal SMTP server: accepts every mail and keeps its data and AUTH lines."""

    port: int = 0
    mails: list[bytes] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        while line := await reader.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                writer.write(b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n")
            elif verb == b"AUTH":
                self.auth.append(line.decode().strip())
                writer.write(b"235 ok\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                self.mails.append(data[:-5])
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    yield sink
    server.close()
    await server.wait_closed()


async def test_smtp_delivers_the_link(sink: SmtpSink) -> None:
    mailer = SmtpEmailer(
        "127.0.0.1", sink.port, "root", "smtp-pass", "noreply@example.com", "Mainflux"
    )
    await mailer.send_password_reset("alice@example.com", LINK)
    [raw] = sink.mails
    message = email.message_from_bytes(raw)
    assert message["To"] == "alice@example.com"
    assert message["From"] == "Mainflux <noreply@example.com>"
    assert LINK in message.get_payload(decode=True).decode().splitlines()
    assert len(sink.auth) == 1
    assert "smtp-pass" not in repr(mailer)


async def test_smtp_without_a_password_does_not_authenticate(sink: SmtpSink) -> None:
    await SmtpEmailer("127.0.0.1", sink.port).send_password_reset("a@b.com", LINK)
    assert len(sink.mails) == 1 and sink.auth == []


async def test_an_unreachable_smtp_server_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    mailer = SmtpEmailer("127.0.0.1", free_port(), timeout=2)
    with pytest.raises(ServiceUnavailable):
        await mailer.send_password_reset("a@b.com", LINK)
    assert all(LINK not in r.getMessage() for r in caplog.records)
