"""Reading an NWB 1.0 file from a URL: h5py over an fsspec file object, with a block cache.

h5py reads through any Python file object (``h5py.File(fs.open(url, "rb"), "r")``); each HDF5 read
becomes a ranged GET unless a cache joins them. Measured with ``benchmarks/object_store.py`` (moto on
loopback; synthetic session, 126 MB, 200 ROIs x 30 000 frames): GET requests to plan / to convert
(the convert figure includes 16 sequential 8 MB GETs of the checksum pass)

=====================  ==========  =============
cache, block            plan GETs   convert GETs
=====================  ==========  =============
blockcache, 1 MiB              70            190
blockcache, 4 MiB              31             47
blockcache, 16 MiB              8             24
readahead, 4 MiB              151            978
first, 4 MiB           (a GET per HDF5 read: unfinished after 10 min)
=====================  ==========  =============

so ``blockcache`` with 16 MiB blocks (each block fetched once; at most :data:`MAX_BLOCKS` kept, 256 MiB).
Override with ``storage_options`` (``block_size``, ``cache_type``, ``cache_options``), passed on to ``fs.open``.

>>> f = RemoteFile("memory://nwb1zarr-doc/session.nwb")
>>> str(f), f.name
('memory://nwb1zarr-doc/session.nwb', 'session.nwb')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any

from ..errors import InputError
from ..urls import StorageOptions, filesystem, remote_error_types, translate, url_name

BLOCK_SIZE = 16 * 2**20
CACHE_TYPE = "blockcache"
MAX_BLOCKS = 16
"""At most 256 MiB of cached blocks per open source (blockcache is an LRU of whole blocks)."""
SEQUENTIAL_BLOCK = 8 * 2**20
OPEN_KEYS = ("block_size", "cache_type", "cache_options")
"""Storage options that tune how the file is read rather than how the filesystem is reached."""


@dataclass(frozen=True)
class RemoteStat:
    st_size: int


class RemoteFile:
    """A source file named by a URL, with the few ``pathlib.Path`` methods a source needs.

    ``str(f)`` is the URL (every error names it), ``f.name`` its last component, ``f.stat().st_size``
    its size, ``f.open("rb")`` a sequential reader (for checksums).
    """

    def __init__(self, url: str, *, storage_options: StorageOptions | None = None) -> None:
        options = dict(storage_options or {})
        self.url = url
        self.open_options = {k: options.pop(k) for k in OPEN_KEYS if k in options}
        self.storage_options = options
        self._fs: Any = None
        self._path = ""
        self._size: int | None = None

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemoteFile({self.url!r})"

    def __fspath__(self) -> str:  # os.fspath(); not a local path, but what every message should name
        return self.url

    @property
    def name(self) -> str:
        return url_name(self.url)

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs, self._path = filesystem(self.url, storage_options=self.storage_options)
        return self._fs

    @property
    def path(self) -> str:
        _ = self.fs
        return self._path

    def stat(self) -> RemoteStat:
        if self._size is None:
            try:
                info = self.fs.info(self.path)
            except remote_error_types() as exc:
                raise translate(exc, self.url) from exc
            if info.get("type") == "directory":
                raise InputError("is a directory (a prefix), expected an NWB 1.0 HDF5 file", file=self.url)
            self._size = int(info.get("size") or 0)
        return RemoteStat(self._size)

    def exists(self) -> bool:
        try:
            self.stat()
        except InputError:
            return False
        return True

    def is_file(self) -> bool:
        return self.exists()

    def open(self, mode: str = "rb") -> IO[bytes]:
        """A sequential reader (``mode`` must be 'rb'): large reads, no cache."""
        if mode != "rb":
            raise ValueError("remote sources are read-only")
        try:
            return self.fs.open(self.path, "rb", block_size=SEQUENTIAL_BLOCK, cache_type="none")
        except remote_error_types() as exc:
            raise translate(exc, self.url) from exc

    def open_random(self) -> IO[bytes]:
        """The reader h5py gets: a block cache (see the module docstring for the measurements)."""
        options = {"block_size": BLOCK_SIZE, "cache_type": CACHE_TYPE, **self.open_options}
        if options["cache_type"] == "blockcache":
            options.setdefault("cache_options", {"maxblocks": MAX_BLOCKS})
        try:
            return self.fs.open(self.path, "rb", **options)
        except remote_error_types() as exc:
            raise translate(exc, self.url) from exc

    def head(self, size: int = 8) -> bytes:
        try:
            return bytes(self.fs.cat_file(self.path, start=0, end=size))
        except remote_error_types() as exc:
            raise translate(exc, self.url) from exc


SourceRef = Any
"""A source as the rest of the pipeline holds it: a ``pathlib.Path`` or a :class:`RemoteFile`."""


def source_ref(src: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> SourceRef:
    """``src`` as a Path (local paths and ``file://`` URLs) or a RemoteFile (any other URL)."""
    from pathlib import Path

    from ..urls import is_remote, local_path

    if isinstance(src, RemoteFile):
        return src
    if is_remote(src):
        return RemoteFile(str(src), storage_options=storage_options)
    return Path(local_path(src))
