"""File utilities shared by every writer: sha256 of a file, fsync, atomic JSON writes, exclusive locks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from indexer.errors import QfqError


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's current contents, read in 4 MiB blocks.

    Args:
        path: the file to hash.

    Returns:
        The lowercase hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """`sha256_file`, memoised per (path, size, mtime) within the process, for large files read often
    (model weights); verification of published artifacts uses `sha256_file`.
    """
    stat = path.stat()
    return _cached_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


def pid_alive(pid: int) -> bool:
    """True when a process `pid` exists (this one included), even if owned by another user."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_file(path: Path) -> None:
    """Flush a written file to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk, where the file system allows it."""
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened for fsync
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json(path: Path, value: Any) -> None:
    """Write JSON (UTF-8, indented) through a temporary file fsynced and renamed into place.

    Readers never see half a file, and a crash leaves the previous version.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(value, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def exclusive_lock(path: Path, busy: Callable[[], QfqError]) -> Iterator[None]:
    """Hold an advisory lock on `path` for the block, or raise `busy()` at once if another process holds it.

    Args:
        path: the lock file (created if missing, left in place).
        busy: builds the French error raised when the lock is taken.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise busy() from exc
    try:
        yield
    finally:
        lock.release()
