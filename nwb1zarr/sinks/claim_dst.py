"""Claiming a destination: a lock beside it, a partial directory to write into, an atomic rename.

Nothing appears at the destination until the store is complete. While a conversion runs, two
names sit beside ``DST``:

- ``.DST.lock``: an advisory ``flock`` lock held by the running conversion; the file holds
  ``pid host`` for people reading it. The kernel drops the lock when the process dies (even by
  SIGKILL), so a lock file nobody holds is stale and is simply reused.
- ``.DST.partial-PID``: the store being written. It is renamed to ``DST`` only when complete.

A killed run leaves both behind. The next run for the same destination takes the lock (nobody holds
it any more), puts back a previous store that a killed ``--overwrite`` run had moved aside
(``.DST.old-PID``) if ``DST`` is missing, removes every other leftover, and goes on. A second
conversion started while the first is running fails at once with "another conversion ... is
writing this destination".
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from ..errors import DestinationError, WriteError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: fall back to O_EXCL lock files
    fcntl = None  # type: ignore[assignment]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a lock holder that may still be writing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_store(path: Path) -> bool:
    return (path / "zarr.json").is_file() or (path / ".zgroup").is_file()


def lock_path(dst: Path) -> Path:
    """The lock file beside ``dst``."""
    return dst.parent / f".{dst.name}.lock"


def leftovers(dst: Path) -> list[Path]:
    """Partial stores and replaced stores of earlier runs for ``dst``."""
    return sorted(dst.parent.glob(f".{dst.name}.partial-*")) + sorted(dst.parent.glob(f".{dst.name}.old-*"))


def _recover(dst: Path) -> None:
    """Clean up after a dead run (we hold the lock). A run killed between its two renames of an
    overwrite leaves no store at ``dst`` but the previous one as ``.DST.old-PID``: put it back."""
    olds = sorted(dst.parent.glob(f".{dst.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not dst.exists() and _is_store(olds[-1]):
        os.rename(olds[-1], dst)
    for stale in leftovers(dst):
        shutil.rmtree(stale, ignore_errors=True)


def _holder(lock: Path) -> str:
    try:
        text = lock.read_text().strip()
    except OSError:
        return "another process"
    return f"pid {text}" if text else "another process"


def _take_flock(dst: Path, lock: Path) -> int:
    """Open and lock ``lock``; the descriptor keeps the lock until closed (or the process dies)."""
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:
            raise DestinationError(f"cannot create lock file {lock.name}: {exc.strerror or exc}",
                                   file=str(dst)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise DestinationError(f"another conversion ({_holder(lock)}) is writing this destination; "
                                       "wait for it to finish", file=str(dst)) from exc
            raise DestinationError(f"cannot lock {lock.name}: {exc.strerror or exc}", file=str(dst)) from exc
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not unlinked by a finishing holder between our open and our flock
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}".encode())
            return fd
        os.close(fd)


def _take_excl(dst: Path, lock: Path) -> int:  # pragma: no cover - non-POSIX fallback
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, str(os.getpid()).encode())
            return fd
        except FileExistsError:
            try:
                pid = int(lock.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = 0
            if pid and pid_alive(pid):
                raise DestinationError(f"another conversion (pid {pid}) is writing this destination; "
                                       f"if it is gone, remove {lock}", file=str(dst)) from None
            lock.unlink(missing_ok=True)
        except OSError as exc:
            raise DestinationError(f"cannot create lock file: {exc.strerror}", file=str(dst)) from exc
    raise DestinationError("another conversion is writing this destination", file=str(dst))


def _write_error(dst: Path, exc: OSError) -> WriteError:
    if exc.errno == errno.ENOSPC:
        return WriteError("no space left on device; nothing was written (free space and run again)", file=str(dst))
    if exc.errno == errno.EDQUOT:
        return WriteError("disk quota exceeded; nothing was written", file=str(dst))
    if exc.errno == errno.ENAMETOOLONG:
        return WriteError("a store path is too long for this file system; nothing was written", file=str(dst))
    return WriteError(f"cannot write: {exc.strerror or exc}; nothing was written", file=str(dst))


@contextlib.contextmanager
def claim(dst: Path, *, overwrite: bool) -> Iterator[Path]:
    """Yield a fresh partial directory; on success move it to ``dst``; on failure remove it.

    OSErrors raised while writing (disk full, I/O errors) become :class:`WriteError`; nothing is
    left at ``dst`` or beside it except the lock file, which is harmless.
    """
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
    lock = lock_path(dst)
    fd = _take_flock(dst, lock) if fcntl is not None else _take_excl(dst, lock)
    partial = parent / f".{dst.name}.partial-{os.getpid()}"
    try:
        _recover(dst)
        if dst.exists() and not overwrite:  # a store put back by _recover
            raise DestinationError("destination exists; pass --overwrite (overwrite=True) to replace it",
                                   file=str(dst))
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
            try:
                os.rename(partial, dst)
            except BaseException:  # an OSError, or Ctrl-C between the two renames
                os.rename(old, dst)  # put the previous store back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(partial, dst)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise _write_error(dst, exc) from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # unlink while still holding it; the inode check in _take_flock covers races
        os.close(fd)
