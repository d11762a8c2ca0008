"""Running a conversion under a supervisor process, so a damaged file can never hang or crash it silently.

Some damaged HDF5 files make libhdf5 loop forever (e.g. a zeroed global heap behind a
variable-length string) or crash. Such a loop holds the Python GIL, so nothing inside the
process can notice it. The CLI therefore forks: the child converts, and a heartbeat thread in
the child writes a byte to a pipe every second in which the child made progress. The parent waits and

- passes the child's exit code through when it ends normally;
- when no heartbeat arrived for ``NWB1ZARR_STALL_SECONDS`` (default 300) seconds, kills the child,
  removes its partial store and says so in one line (exit code 1);
- when the child died from a signal (a crash in libhdf5, or SIGKILL from outside), removes the
  partial store and says so in one line (exit code 1);
- forwards SIGINT / SIGTERM it receives to the child, which stops cleanly (exit code 130); a child
  that has not stopped 10 s later (stuck inside libhdf5) is killed and cleaned up the same way.

"Heartbeat" means: some thread of the child moved (its innermost Python frame changed) since
the last look. A libhdf5 loop leaves all threads where they are, whether or not it holds the GIL;
when it holds the GIL, no beat can be written at all. Either way the parent notices.

The child dies with the parent (``PR_SET_PDEATHSIG`` on Linux), so killing the parent never leaves a
conversion running that could still put a store at the destination.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .errors import NOTHING_WRITTEN
from .urls import is_url

DEFAULT_STALL_SECONDS = 300.0
HEARTBEAT_SECONDS = 1.0
INTERRUPT_GRACE_SECONDS = 10.0
"""After forwarding SIGINT/SIGTERM, how long the child gets to stop before it is killed
(``NWB1ZARR_INTERRUPT_GRACE``)."""


def stall_seconds() -> float:
    """The stall limit from ``NWB1ZARR_STALL_SECONDS`` (seconds without a heartbeat)."""
    try:
        return max(1.0, float(os.environ.get("NWB1ZARR_STALL_SECONDS", DEFAULT_STALL_SECONDS)))
    except ValueError:
        return DEFAULT_STALL_SECONDS


def can_supervise() -> bool:
    """Fork only from a plain CLI process on POSIX, unless ``NWB1ZARR_SUPERVISE=0``.

    Not when stdout/stderr are redirected inside Python (click's test runner, pytest's capture, an
    embedding application) or when other threads already run (forking those is unsafe).
    """
    if os.environ.get("NWB1ZARR_SUPERVISE", "1") == "0" or not hasattr(os, "fork"):
        return False
    if sys.stdout is not sys.__stdout__ or sys.stderr is not sys.__stderr__:
        return False
    return threading.active_count() == 1


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _snapshot() -> frozenset[tuple[int, int, int]]:
    """Where every other thread is: (thread id, code object id, instruction offset) of its top frame."""
    me = threading.get_ident()
    return frozenset((tid, id(frame.f_code), frame.f_lasti) for tid, frame in sys._current_frames().items()
                     if tid != me)


def _heartbeat(fd: int) -> None:
    """Beat whenever some thread has moved since the last look.

    libhdf5 stuck in a loop (GIL released or not) leaves every thread where it was: the thread
    in the h5py call, and the others waiting for it. Any real work moves at least one of them.
    """
    last = None
    while True:
        now = _snapshot()
        if now != last:
            try:
                os.write(fd, b".")
            except OSError:
                return
            last = now
        time.sleep(HEARTBEAT_SECONDS)


def store_identity(dst: Path | str | None) -> tuple[int, int] | None:
    """(device, inode) of a local destination, None when absent or a URL: a store renamed into place
    has another identity than whatever was there before."""
    if dst is None or is_url(str(dst)):
        return None
    try:
        info = os.stat(dst)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def interrupted_message(dst: Path | str | None, *, before: tuple[int, int] | None, validating: bool) -> str:
    """What an interrupted conversion wrote: nothing, or (renamed into place before the interruption) a whole store.

    >>> interrupted_message(None, before=None, validating=False)
    'interrupted; nothing was written to the destination'
    """
    after = store_identity(dst)
    if after is not None and after != before:
        return f"interrupted after the store at {dst} was complete" + ("; it was not validated" if validating else "")
    return NOTHING_WRITTEN


def _cleanup(dst: Path | None, pid: int) -> None:
    if dst is None:
        return
    dst = Path(os.path.abspath(dst))
    shutil.rmtree(dst.parent / f".{dst.name}.partial-{pid}", ignore_errors=True)
    with contextlib.suppress(OSError):
        (dst.parent / f".{dst.name}.lock").unlink()


def supervised(run: Callable[[], int], *, src: Path, dst: Path | None, validating: bool = False) -> int:
    """Run ``run()`` (returns an exit code) in a supervised child; return the exit code to use.

    ``dst`` is the store the child makes (its partial store is removed if the child is killed); ``validating``
    says whether the child validates it after putting it in place (said when an interruption comes after that).
    """
    parent_pid = os.getpid()
    before = store_identity(dst)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # Ctrl-C reaches the parent only, which forwards it once
        _die_with_parent()
        if os.getppid() != parent_pid:
            os._exit(1)
        threading.Thread(target=_heartbeat, args=(write_fd,), daemon=True, name="nwb1zarr-heartbeat").start()
        code = 1
        try:
            code = run()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # run() reports its own errors; this is a last resort
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    os.close(write_fd)
    forwarded: list[float] = []

    def forward(signum: int, frame: object) -> None:
        forwarded.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    limit = stall_seconds()
    grace = float(os.environ.get("NWB1ZARR_INTERRUPT_GRACE", INTERRUPT_GRACE_SECONDS))
    last = time.monotonic()
    try:
        while True:
            try:
                ready, _, _ = select.select([read_fd], [], [], 0.5)
            except InterruptedError:
                ready = []
            if ready:
                try:
                    data = os.read(read_fd, 4096)
                except InterruptedError:
                    data = b"."
                if data:
                    last = time.monotonic()
                    continue
                break  # EOF: the child has exited (or closed everything)
            if forwarded and time.monotonic() - forwarded[0] > grace:
                # the child did not stop: it is inside a libhdf5 call that does not return
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _cleanup(dst, pid)
                said = interrupted_message(dst, before=before, validating=validating)
                print(f"error: {src}: {said}", file=sys.stderr)
                return 130
            if time.monotonic() - last > limit:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _cleanup(dst, pid)
                print(f"error: {src}: no progress for {limit:.0f} s; libhdf5 is stuck, the file is probably "
                      "damaged (conversion stopped, nothing written)", file=sys.stderr)
                return 1
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        os.close(read_fd)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        _cleanup(dst, pid)
        name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else str(sig)
        if forwarded:
            print(f"error: {src}: {interrupted_message(dst, before=before, validating=validating)}", file=sys.stderr)
            return 130
        print(f"error: {src}: the converter process died ({name}); the file may be damaged "
              "(nothing written)", file=sys.stderr)
        return 1
    return os.WEXITSTATUS(status)
