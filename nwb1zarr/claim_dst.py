"""Claiming a destination: a lock beside it, a partial directory to write into, an atomic rename.

Nothing appears at the destination until the store is complete. A killed run leaves
``.NAME.lock`` and ``.NAME.partial-PID`` beside it; the next run sees that PID is gone,
removes them and goes on.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from .errors import DestinationError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_store(path: Path) -> bool:
    return (path / "zarr.json").is_file() or (path / ".zgroup").is_file()


def leftovers(dst: Path) -> list[Path]:
    """Partial stores and locks of earlier runs for ``dst``."""
    return sorted(dst.parent.glob(f".{dst.name}.partial-*")) + sorted(dst.parent.glob(f".{dst.name}.old-*"))


def _clean_stale(dst: Path, lock: Path) -> None:
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        pid = 0
    if pid and _alive(pid) and pid != os.getpid():
        raise DestinationError(f"another conversion (pid {pid}) is writing this destination; "
                               f"if it is gone, remove {lock}", file=str(dst))
    lock.unlink(missing_ok=True)
    for path in leftovers(dst):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def claim(dst: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a fresh partial directory; on success move it to ``dst``; on failure remove it."""
    dst = Path(os.path.abspath(dst))
    parent = dst.parent
    if not parent.is_dir():
        raise DestinationError(f"parent directory {parent} does not exist", file=str(dst))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DestinationError(f"directory {parent} is not writable", file=str(dst))
    if dst.exists() and not overwrite:
        raise DestinationError("destination exists; pass --overwrite (overwrite=True) to replace it", file=str(dst))
    if dst.exists() and not _is_store(dst):
        raise DestinationError("destination exists and is not a Zarr store; refusing to replace it", file=str(dst))
    lock = parent / f".{dst.name}.lock"
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            _clean_stale(dst, lock)
        except OSError as exc:
            raise DestinationError(f"cannot create lock file: {exc.strerror}", file=str(dst)) from exc
    else:
        raise DestinationError("another conversion is writing this destination", file=str(dst))
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        partial = parent / f".{dst.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            yield partial
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if dst.exists():
            if not overwrite:
                raise DestinationError("destination appeared while converting; not replaced", file=str(dst))
            old = parent / f".{dst.name}.old-{os.getpid()}"
            os.rename(dst, old)
            os.rename(partial, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(partial, dst)
    except OSError as exc:
        shutil.rmtree(parent / f".{dst.name}.partial-{os.getpid()}", ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise DestinationError("no space left on device", file=str(dst)) from exc
        raise DestinationError(f"cannot write: {exc.strerror or exc}", file=str(dst)) from exc
    finally:
        lock.unlink(missing_ok=True)
