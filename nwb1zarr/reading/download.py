"""Fetch one file over HTTP(S) into a local cache: resumable, verified, recorded.

- **Resume**: bytes arrive in ``NAME.part`` (its URL and ETag beside it in ``NAME.part.json``); a dropped
  connection is resumed with an HTTP ``Range`` request (``If-Range`` on the ETag, so a changed object starts
  over), up to ``retries`` times in one call, and by the next call after an interruption.
- **Verify**: against the object's ETag when it is a plain MD5 (S3 single-part uploads; multipart ETags
  contain ``-``), else against its size. A mismatch deletes the download and raises one line.
- **Record**: a verified file gets a ``NAME.sha256`` sidecar (``sha256sum`` format); :func:`verify_cached`
  re-hashes against it on later runs, so a damaged cache is noticed without the network.

Only the standard library (urllib): no new dependency for the base install.

>>> got = fetch("https://example.org/570014520.nwb", Path("cache/570014520.nwb"))  # doctest: +SKIP
>>> got.verified_by, got.size                                                      # doctest: +SKIP
('md5', 1043912376)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..progress import ProgressCallback, no_progress, report

BLOCK = 1 << 20
DEFAULT_TIMEOUT = 60.0
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class DownloadError(InputError):
    """A download failed (network, server, or a checksum that does not match); exit code 2."""


class RemoteNotFound(DownloadError):
    """The server has no object at the URL (HTTP 404 / 410, or 403 as S3 answers without list rights)."""


@dataclass(frozen=True)
class Downloaded:
    """A verified local copy: where it is, what it was fetched from, and how it was checked."""

    path: Path
    url: str | None
    size: int
    sha256: str | None
    verified_by: str  # "md5" (the ETag), "size", "sha256" (the sidecar of an earlier download), "none"
    resumed_from: int = 0  # bytes of an earlier partial download reused
    fetched: bool = False  # False: the cached copy was used


def sidecar(path: Path) -> Path:
    """Where the sha256 of a verified download is recorded (``NAME.sha256``)."""
    return path.with_name(path.name + ".sha256")


def fetch(url: str, dest: Path, *, progress: ProgressCallback = no_progress, timeout: float = DEFAULT_TIMEOUT,
          retries: int = 3) -> Downloaded:
    """Download ``url`` to ``dest`` (resuming a partial download), verify it, record its sha256.

    ``dest`` appears only complete and verified. Reports ``progress("download", done, total, unit="bytes")``.
    Raises :class:`RemoteNotFound` (no such object) or :class:`DownloadError` (anything else), one line each.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the cache folder: {exc.strerror or exc}", file=str(dest.parent)) from exc
    with _locked(dest):  # a second process waits here, then finds the file complete
        if dest.exists():
            return verify_cached(dest, progress=progress)
        part = dest.with_name(dest.name + ".part")
        resumed_from = part.stat().st_size if part.exists() and _part_state(part).get("url") == url else 0
        for attempt in range(retries + 1):
            try:
                return _fetch_once(url, dest, part, progress=progress, timeout=timeout, resumed_from=resumed_from)
            except _Dropped as dropped:
                if attempt == retries:
                    raise DownloadError(f"download stopped at {dropped.done} of {dropped.total} bytes "
                                        f"({dropped.reason}) after {retries + 1} attempts; run again to resume",
                                        file=url) from dropped
    raise AssertionError("unreachable")  # pragma: no cover


def verify_cached(path: Path, *, progress: ProgressCallback = no_progress) -> Downloaded:
    """Check a cached file against its sha256 sidecar (when it has one); a mismatch deletes both and raises."""
    path = Path(path)
    size = path.stat().st_size
    recorded_file = sidecar(path)
    if not recorded_file.exists():
        return Downloaded(path, None, size, None, "none")
    words = recorded_file.read_text().split()
    recorded = words[0] if words else ""
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
            done += len(block)
            report(progress, "verify", done, size, unit="bytes")
    report(progress, "verify", size, size, unit="bytes")
    if digest.hexdigest() != recorded:
        path.unlink(missing_ok=True)
        recorded_file.unlink(missing_ok=True)
        raise DownloadError(f"cached download is corrupt (sha256 {digest.hexdigest()[:12]}..., recorded "
                            f"{recorded[:12]}...); deleted it, run again to download it again", file=str(path))
    return Downloaded(path, None, size, recorded, "sha256")


class _Dropped(Exception):
    def __init__(self, done: int, total: int, reason: str) -> None:
        super().__init__(reason)
        self.done, self.total, self.reason = done, total, reason


def _fetch_once(url: str, dest: Path, part: Path, *, progress: ProgressCallback, timeout: float,
                resumed_from: int) -> Downloaded:
    state = _part_state(part) if part.exists() else {}
    offset = part.stat().st_size if state.get("url") == url and part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "nwb1zarr"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
        if state.get("etag"):
            request.add_header("If-Range", f'"{state["etag"]}"')
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part is not a prefix of the object any more: start over
            _discard(part)
            return _fetch_once(url, dest, part, progress=progress, timeout=timeout, resumed_from=0)
        if exc.code in (403, 404, 410):
            raise RemoteNotFound(f"HTTP {exc.code} {exc.reason}", file=url) from exc
        raise DownloadError(f"cannot download: HTTP {exc.code} {exc.reason}", file=url) from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"cannot reach the server ({reason})", file=url) from exc
    with response:
        etag = _etag(response.headers.get("ETag"))
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset or match.group(3) == "*":
                raise DownloadError(f"the server answered a resume with an unusable Content-Range "
                                    f"{response.headers.get('Content-Range')!r}", file=url)
            total = int(match.group(3))
        else:  # 200: the whole object (a server without Range, or If-Range saw a changed object)
            offset = 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else -1
        part.with_name(part.name + ".json").write_text(json.dumps({"url": url, "etag": etag, "size": total}))
        md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        mode = "r+b" if offset else "wb"
        with part.open(mode) as out:
            if offset:  # hash what is already there, then append
                while block := out.read(BLOCK):
                    md5.update(block)
                    sha.update(block)
                out.seek(offset)
                out.truncate()
            done = offset
            report(progress, "download", done, total, unit="bytes")
            try:
                while block := response.read(BLOCK):
                    out.write(block)
                    md5.update(block)
                    sha.update(block)
                    done += len(block)
                    report(progress, "download", done, total, unit="bytes")
            except (OSError, http.client.HTTPException) as exc:  # TimeoutError is an OSError
                raise _Dropped(done, total, str(exc) or type(exc).__name__) from exc
    if total >= 0 and done < total:
        raise _Dropped(done, total, "the connection closed early")
    if total >= 0 and done != total:
        _discard(part)
        raise DownloadError(f"download is corrupt: {done} bytes, the server announced {total}; deleted it, "
                            "run again", file=url)
    verified_by = "size" if total >= 0 else "none"
    if etag and _MD5.match(etag):
        if md5.hexdigest() != etag:
            _discard(part)
            raise DownloadError(f"download is corrupt: md5 {md5.hexdigest()} but the server's ETag says {etag}; "
                                "deleted it, run again", file=url)
        verified_by = "md5"
    sidecar(dest).write_text(f"{sha.hexdigest()}  {dest.name}\n")
    os.replace(part, dest)
    part.with_name(part.name + ".json").unlink(missing_ok=True)
    return Downloaded(dest, url, done, sha.hexdigest(), verified_by, resumed_from=resumed_from, fetched=True)


def _etag(value: str | None) -> str | None:
    """The ETag without quotes or a weak-validator prefix ('W/"abc"' -> 'abc')."""
    if not value:
        return None
    value = value.strip()
    value = value.removeprefix("W/")
    return value.strip('"').lower() or None


def _part_state(part: Path) -> dict[str, object]:
    try:
        state = json.loads(part.with_name(part.name + ".json").read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    part.with_name(part.name + ".json").unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``NAME.lock`` beside ``dest`` (two downloads of one file take turns)."""
    lock = dest.with_name(dest.name + ".lock")
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
