"""The data directory helpers on a real file system: private modes, atomic private
files, and the ``flock`` that keeps a second process out."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mainflux.core.datadir import (
    DataDirError,
    DataDirLock,
    create_private,
    make_private,
    write_private,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_make_private_creates_the_directory_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "data"
    assert make_private(directory) == []
    assert _mode(directory) == 0o700


def test_make_private_repairs_open_modes_and_says_which(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "mail").mkdir(parents=True)
    files = {data / "mainflux.db": 0o644, data / "mail" / "x.eml": 0o666}
    for path, mode in files.items():
        path.write_text("x")
        path.chmod(mode)
    (data / "private").write_text("x")
    (data / "private").chmod(0o600)
    data.chmod(0o755)
    (data / "mail").chmod(0o777)

    changed = make_private(data)

    assert set(changed) == {data, data / "mail", *files}
    assert _mode(data) == _mode(data / "mail") == 0o700
    assert all(_mode(path) == 0o600 for path in [*files, data / "private"])
    assert make_private(data) == []


def test_make_private_leaves_what_a_symlink_points_at_alone(tmp_path: Path) -> None:
    outside = tmp_path / "shared.txt"
    outside.write_text("not ours")
    outside.chmod(0o644)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "link").symlink_to(outside)
    assert make_private(data) == []
    assert _mode(outside) == 0o644


def test_private_files_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        assert create_private(tmp_path / "db")
        assert not create_private(tmp_path / "db")
        write_private(tmp_path / "secret", "s3cret")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "db") == _mode(tmp_path / "secret") == 0o600
    assert (tmp_path / "secret").read_text() == "s3cret"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db", "secret"]  # no temporary


def test_write_private_never_overwrites(tmp_path: Path) -> None:
    write_private(tmp_path / "secret", "first")
    with pytest.raises(FileExistsError):
        write_private(tmp_path / "secret", "second")
    assert (tmp_path / "secret").read_text() == "first"


def test_the_lock_keeps_a_second_holder_out_until_released(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    assert (tmp_path / "mainflux.lock").read_text().strip() == str(os.getpid())
    assert _mode(tmp_path / "mainflux.lock") == 0o600
    held = rf"in use by another mainflux run \(pid {os.getpid()}\)"
    with pytest.raises(DataDirError, match=held):
        DataDirLock(tmp_path).acquire()
    first.release()
    with DataDirLock(tmp_path):
        pass


def test_a_lock_held_by_a_killed_process_is_free_again(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from mainflux.core.datadir import DataDirLock; "
            f"DataDirLock(pathlib.Path({str(tmp_path)!r})).acquire(); "
            "print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    with pytest.raises(DataDirError, match=f"pid {holder.pid}"):
        DataDirLock(tmp_path).acquire()
    holder.kill()
    holder.communicate(timeout=10)
    with DataDirLock(tmp_path):
        assert (tmp_path / "mainflux.lock").read_text().strip() == str(os.getpid())
