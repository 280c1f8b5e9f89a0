"""The all-in-one's data directory: private to its owner, used by one process at a time.

The directory holds the SQLite database (password hashes, thing keys), the signing
secret and the mail outbox (recovery links), so it is kept ``0700`` and every file in it
``0600``. :func:`make_private` creates it that way and repairs the modes of what an
older version (or a copy) left readable by others. :class:`DataDirLock` holds an
``flock`` on ``mainflux.lock`` while the process runs, so a second process on the same
directory stops at start-up; the kernel drops the lock when the holder dies, so a
killed process never blocks a restart."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import Final

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
LOCK_NAME: Final = "mainflux.lock"


class DataDirError(Exception):
    """The data directory cannot be used; the message says why in one line."""


def make_private(directory: Path) -> list[Path]:
    """Create ``directory`` (mode ``0700``) when missing and take group and other access
    away from it and from everything under it (directories ``0700``, files ``0600``).

    Symbolic links are left alone. Returns the paths whose mode was changed. Raises
    :class:`DataDirError` when the directory cannot be created or repaired."""
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        changed = [directory] if _restrict(directory, DIR_MODE) else []
        for root, dirs, files in os.walk(directory):
            for name in dirs:
                path = Path(root, name)
                if not path.is_symlink() and _restrict(path, DIR_MODE):
                    changed.append(path)
            for name in files:
                path = Path(root, name)
                if not path.is_symlink() and _restrict(path, FILE_MODE):
                    changed.append(path)
    except OSError as exc:
        raise DataDirError(f"cannot make {directory} private: {exc.strerror}") from None
    return changed


def _restrict(path: Path, mode: int) -> bool:
    """Clear the group and other bits of ``path``; whether anything had to change."""
    current = stat.S_IMODE(path.lstat().st_mode)
    if not current & 0o077:
        return False
    path.chmod(mode | (current & 0o700))
    return True


def create_private(path: Path) -> bool:
    """Create an empty file with mode ``0600`` unless it exists; whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode ``0600`` holding ``text``, all at once: a crash leaves
    either no file or the whole text. Raises ``FileExistsError`` when it already exists
    (so two writers never mix their content), ``OSError`` when it cannot be written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "w") as file:
            os.fchmod(fd, FILE_MODE)  # a leftover from a crashed run may have another mode
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


class DataDirLock:
    """An exclusive ``flock`` on ``<directory>/mainflux.lock`` for this process's life."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, recording this process's id in the file.

        Raises :class:`DataDirError` naming the holder's pid when another process has it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise DataDirError(f"cannot open {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise DataDirError(f"cannot lock {self.path}: {exc.strerror}") from None
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise DataDirError(
                f"{self.path.parent} is in use by another mainflux run{by}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (the file stays: a later run takes it over)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()
