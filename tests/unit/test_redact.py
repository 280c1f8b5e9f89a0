"""URL credentials are masked in text, URLs and log records."""

from __future__ import annotations

import io
import logging

import pytest

from mainflux.core.config import ConfigError, env_url
from mainflux.core.redact import RedactingFilter, install_log_redaction, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://user:s3cret@cache:6379/0", "redis://user:***@cache:6379/0"),
        (
            "postgresql+asyncpg://mainflux:s3cret@db:5432/things?ssl=require",
            "postgresql+asyncpg://mainflux:***@db:5432/things?ssl=require",
        ),
        ("nats://user:s3cret@bus:4222", "nats://user:***@bus:4222"),
        ("nats://s3cret-token@bus:4222", "nats://***@bus:4222"),
        ("tls://u:p%40ss@bus:4222", "tls://u:***@bus:4222"),
        ("redis://:p@ss@cache:6379/0", "redis://:***@cache:6379/0"),
        ("nats://bus:4222", "nats://bus:4222"),
        ("sqlite+aiosqlite:///data/mainflux.db", "sqlite+aiosqlite:///data/mainflux.db"),
        ("http://host/path@v1", "http://host/path@v1"),
    ],
    ids=[
        "redis-password",
        "redis-user-password",
        "postgres",
        "nats-user-password",
        "nats-token",
        "escaped-at",
        "raw-at-in-password",
        "no-credentials",
        "sqlite",
        "at-in-path",
    ],
)
def test_redact_url_masks_only_the_secret(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_masks_every_url_and_leaves_the_rest() -> None:
    text = (
        "cannot reach redis://:one@a:1/0 nor nats://u:two@b:2 "
        "(mail admin@example.com; see https://sqlalche.me/e/21/dbapi)"
    )
    assert redact_text(text) == (
        "cannot reach redis://:***@a:1/0 nor nats://u:***@b:2 "
        "(mail admin@example.com; see https://sqlalche.me/e/21/dbapi)"
    )


def test_a_bad_url_setting_is_named_without_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        env_url("MF_DB_URL", "", ("postgresql",), {"MF_DB_URL": "mysql://u:s3cret@db/x"})
    assert "MF_DB_URL" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def _logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    """A logger with its own handler writing to a buffer, redaction installed on it."""
    out = io.StringIO()
    logger = logging.getLogger(name)
    logger.propagate = False
    logger.handlers = [logging.StreamHandler(out)]
    install_log_redaction(logger)
    install_log_redaction(logger)  # installing twice adds one filter
    return logger, out


def test_log_records_lose_url_credentials_in_message_args_and_traceback() -> None:
    logger, out = _logger("tests.redact.records")
    assert sum(isinstance(f, RedactingFilter) for f in logger.handlers[0].filters) == 1
    logger.warning("NATS %s: disconnected", "nats://u:s3cret@bus:4222")
    logger.warning("plain message with %d args", 2)
    try:
        raise ConnectionError("cannot connect to redis://:s3cret@cache:6379/0")
    except ConnectionError:
        logger.exception("reconnect to %s failed", "postgresql://m:s3cret@db/x")
    text = out.getvalue()
    assert "s3cret" not in text
    assert "nats://u:***@bus:4222: disconnected" in text
    assert "plain message with 2 args" in text
    assert "redis://:***@cache:6379/0" in text and "Traceback" in text
