"""Running a service process: logging, signals, HTTP servers, clean start-up errors.

Every ``mainflux-<service>`` entry point and ``mainflux run`` go through
:func:`run`, so a bad setting or a busy port ends with one line naming it, never a
traceback, and Ctrl-C or SIGTERM stops the process cleanly."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import resource
import signal
import socket
import ssl as _ssl
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

import uvicorn
from starlette.types import ASGIApp

from mainflux.core.config import ConfigError, env
from mainflux.core.guard import guarded_protocol
from mainflux.core.limits import HttpLimits
from mainflux.core.redact import install_log_redaction, redact_text
from mainflux.core.settings import LOG_LEVELS

log = logging.getLogger("mainflux")


class StartupError(Exception):
    """Start-up cannot go on; the message says why in one line."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (driver errors span several), for start-up
    messages that must stay on one line."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


#: Young-generation size of the cyclic garbage collector once a service is up.
GC_YOUNG_THRESHOLD: Final = 10_000


def tune_garbage_collector() -> None:
    """Set the cyclic garbage collector up for message work; call once start-up is done.

    The objects created at start-up (modules, engines, clients) are frozen out of the
    full passes, which would otherwise rescan them again and again under load, and the
    young generation is made large enough to hold a batch of messages in flight."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def setup_logging(level_var: str = "MF_LOG_LEVEL", default: str = "info") -> None:
    """Configure logging from ``level_var`` (debug, info, warn, error)."""
    raw = env(level_var, env("MF_LOG_LEVEL", default)).lower()
    level = LOG_LEVELS.get(raw)
    if level is None:
        raise ConfigError(f"{level_var}: expected debug, info, warn or error, got {raw!r}")
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    install_log_redaction()  # no URL password or token reaches a log line
    # Migrations say what they apply at INFO; keep start-up quiet unless debugging.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    # Calls between services (bootstrap, provision) would log every request at INFO.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))


def bind_socket(
    host: str,
    port: int,
    setting: str,
    kind: int = socket.SOCK_STREAM,
    *,
    reuse_port: bool = False,
) -> socket.socket:
    """Bind a listening socket now, so a busy port fails start-up naming ``setting``.

    With ``reuse_port`` the socket gets ``SO_REUSEPORT``: sibling processes that bind
    the same address the same way share its connections (the kernel spreads them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if kind == socket.SOCK_STREAM:
        # Accepted connections inherit this: no Nagle delay on small replies.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"{setting}: cannot listen on {host}:{port}: {exc.strerror}") from None
    if kind == socket.SOCK_STREAM:
        sock.listen(2048)
    sock.setblocking(False)
    return sock


#: File descriptors kept free of HTTP connections (databases, buses, log files, MQTT).
FD_HEADROOM: Final = 256


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit and return the new soft limit,
    so the connection caps, not the operating system's default, bound a process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            log.warning("cannot raise the open files limit above %d", soft)
    return soft


def connection_cap(limits: HttpLimits) -> int:
    """``limits.max_connections``, lowered so connections leave :data:`FD_HEADROOM`
    descriptors of the soft ``RLIMIT_NOFILE`` for everything else."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits.max_connections
    return max(1, min(limits.max_connections, soft - FD_HEADROOM))


def http_config(app: ASGIApp, limits: HttpLimits, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration bounded by ``limits`` (see :mod:`mainflux.core.guard`);
    ``options`` are further ``uvicorn.Config`` arguments, or replace the defaults here."""
    cap = connection_cap(limits)
    if cap < limits.max_connections:
        log.warning(
            "MF_HTTP_MAX_CONNECTIONS lowered to %d by the open files limit (ulimit -n)", cap
        )
        limits = dataclasses.replace(limits, max_connections=cap)
    settings: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        "loop": "none",
        "ws": "websockets-sansio",
        "ws_max_size": limits.ws_max_size,
        **options,
        "http": guarded_protocol(limits),
    }
    return uvicorn.Config(app, **settings)


async def serve_http(
    app: ASGIApp,
    sock: socket.socket,
    *,
    name: str = "http",
    ssl: _ssl.SSLContext | None = None,
    limits: HttpLimits | None = None,
) -> None:
    """Serve ``app`` on an already bound socket until cancelled; HTTPS when ``ssl`` (a
    server-side context, see :mod:`mainflux.core.tls`) is given. ``limits`` default to
    the ``MF_HTTP_*`` variables (see :class:`HttpLimits`)."""
    config = http_config(
        app,
        limits if limits is not None else HttpLimits.from_env(),
        lifespan="on",
        timeout_graceful_shutdown=5,
        ssl_context_factory=None if ssl is None else (lambda _config, _default: ssl),
    )
    # uvicorn turns SIGINT/SIGTERM into a graceful exit while it serves; ``run``'s own
    # handlers take over again once it returns.
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        # Let uvicorn finish its own shutdown (lifespan, connections) instead of
        # cancelling it mid-way, which would log a traceback.
        server.should_exit = True
        await task
        raise
    if server.started is False:
        raise StartupError(f"{name}: the server failed to start")


def run(
    main: Callable[[asyncio.Event], Awaitable[None]], *, level_var: str = "MF_LOG_LEVEL"
) -> None:
    """Run ``main(stop)`` on a fresh event loop until it returns or SIGINT/SIGTERM.

    ``main`` receives an event that is set when the process is asked to stop."""
    try:
        setup_logging(level_var)
    except ConfigError as exc:
        print(f"mainflux: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise_open_files_limit()
    with asyncio.Runner(loop_factory=_loop_factory()) as loop_runner:
        code = loop_runner.run(_guarded(main))
    raise SystemExit(code)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it is, with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _guarded(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await main(stop)
    except (ConfigError, StartupError) as exc:
        print(f"mainflux: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    log.info("stopped (pid %d)", os.getpid())
    return 0


async def until_stopped(stop: asyncio.Event, *tasks: asyncio.Task[None]) -> None:
    """Wait for ``stop`` or for any task to end, then cancel the rest.

    A task that failed re-raises its error here."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    for task in (stopper, *tasks):
        task.cancel()
    for task in tasks:
        if task in done and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    await asyncio.gather(*tasks, return_exceptions=True)
