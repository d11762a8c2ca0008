"""A Zarr store on an object store (any fsspec URL) that writes concurrently and publishes its root last.

:class:`CommitStore` wraps zarr's ``FsspecStore`` for a prefix the commit protocol has just emptied
(:mod:`nwb1zarr.sinks.claim_remote`):

- the root metadata documents (``zarr.json`` for Zarr 3; ``.zgroup``, ``.zattrs``, ``.zmetadata`` for
  Zarr 2) are held in memory while the store is written; :meth:`CommitStore.commit` writes them last,
  so until then nothing under the prefix opens as a store;
- every other object is written behind: ``set`` starts the PUT and returns, with at most
  ``concurrency`` PUTs in flight (the writer's threads block beyond that, which bounds memory); the
  first failure is raised by the next ``set`` and by :meth:`CommitStore.flush`;
- the store knows every key it wrote (the prefix was empty), so zarr's and xarray's existence checks,
  metadata reads and listings (creating arrays, consolidating) are answered without a request:
  a write is PUTs only.

>>> store = CommitStore.from_url("memory://nwb1zarr-doc/out.zarr", zarr_format=3)
>>> store.held_keys
('zarr.json',)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.core.sync import sync
from zarr.storage import FsspecStore, WrapperStore

from ..errors import DestinationError, Nwb1ZarrError
from ..urls import StorageOptions, filesystem, protocol_of

WRITE_CONCURRENCY = 64
"""PUTs in flight while writing a store (benchmarks/object_store.py: moto on loopback, synthetic session)."""
ROOT_DOCUMENTS = {3: ("zarr.json",), 2: (".zattrs", ".zmetadata", ".zgroup")}
"""The root documents of each Zarr format, in the order :meth:`CommitStore.commit` writes them: for Zarr 2,
``.zgroup`` (what a non-consolidated reader needs) goes last; ``.zmetadata`` alone already names only
complete arrays, because it is written after every other object."""


S3_READ_OPTIONS = {"max_concurrency": 1}
"""s3fs fetches a whole object with HEAD + GET unless ``max_concurrency`` is 1 (it splits large objects);
store objects are at most 16 MB, so one GET each (tests/test_object_store.py counts the requests)."""


def fsspec_store(url: str, *, storage_options: StorageOptions | None = None, read_only: bool = False,
                 error: type[Nwb1ZarrError] = DestinationError) -> FsspecStore:
    """zarr's FsspecStore for ``url`` (an asynchronous filesystem; sync ones such as memory:// are wrapped)."""
    options = dict(storage_options or {})
    if protocol_of(url) in ("s3", "s3a"):
        config = {"max_pool_connections": WRITE_CONCURRENCY, **options.get("config_kwargs", {})}
        options = {**S3_READ_OPTIONS, **options, "config_kwargs": config}  # botocore's pool is 10 by default
    fs, path = filesystem(url, storage_options=options, error=error)
    if getattr(fs, "async_impl", False):
        fs, path = filesystem(url, storage_options=options, asynchronous=True, error=error)
    else:
        from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

        fs = AsyncFileSystemWrapper(fs, asynchronous=True)
    return FsspecStore(fs, read_only=read_only, path=path)


METADATA_NAMES = ("zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata")


class CommitStore(WrapperStore[FsspecStore]):
    """An FsspecStore over an empty prefix whose root documents wait in memory until :meth:`commit`,
    whose writes overlap, and which answers reads of what it wrote without a request (metadata) or
    with one (chunks)."""

    def __init__(self, store: FsspecStore, *, zarr_format: int = 3, concurrency: int | None = None) -> None:
        super().__init__(store)
        self.zarr_format = zarr_format
        self.held_keys: tuple[str, ...] = ROOT_DOCUMENTS[zarr_format]
        self.concurrency = concurrency or WRITE_CONCURRENCY
        self.held: dict[str, Buffer] = {}  # root documents, written by commit()
        self.metadata: dict[str, Buffer] = {}  # every metadata document written (small)
        self.pending: dict[str, Buffer] = {}  # chunks whose PUT is in flight
        self.keys: set[str] = set()  # every key written (held or not)
        self.dirty: set[str] = set()  # metadata documents not yet PUT
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self.puts = 0
        self.bytes_written = 0
        self.peak_in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots: asyncio.Semaphore | None = None
        self._failure: BaseException | None = None

    @classmethod
    def from_url(cls, url: str, *, zarr_format: int = 3, storage_options: StorageOptions | None = None,
                 concurrency: int | None = None) -> CommitStore:
        return cls(fsspec_store(url, storage_options=storage_options), zarr_format=zarr_format,
                   concurrency=concurrency)

    def _with_store(self, store: FsspecStore) -> CommitStore:
        # zarr asks for views (read-only ones, for instance); they share what this store knows
        clone = CommitStore(store, zarr_format=self.zarr_format, concurrency=self.concurrency)
        clone.__dict__.update({k: v for k, v in self.__dict__.items() if k != "_store"})
        return clone

    def __repr__(self) -> str:
        return f"CommitStore({self._store!r})"

    # ---- reads: answered from what this store wrote ----------------------------------------------
    def _local(self, key: str) -> Buffer | None:
        for known in (self.held, self.metadata, self.pending):
            if key in known:
                return known[key]
        return None

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
                  ) -> Buffer | None:
        if key not in self.keys:
            return None  # the prefix was empty: what this store did not write is not there
        local = self._local(key)
        if local is None:
            return await self._store.get(key, prototype, byte_range)
        data = local.to_bytes()
        if byte_range is not None:
            from zarr.abc.store import OffsetByteRequest, RangeByteRequest, SuffixByteRequest

            if isinstance(byte_range, RangeByteRequest):
                data = data[byte_range.start:byte_range.end]
            elif isinstance(byte_range, OffsetByteRequest):
                data = data[byte_range.offset:]
            elif isinstance(byte_range, SuffixByteRequest):
                data = data[-byte_range.suffix:]
        return prototype.buffer.from_bytes(data)

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        return [await self.get(key, prototype, byte_range) for key, byte_range in key_ranges]

    async def exists(self, key: str) -> bool:
        return key in self.keys

    async def is_empty(self, prefix: str) -> bool:
        prefix = prefix.rstrip("/")
        return not any(k == prefix or k.startswith(f"{prefix}/") for k in self.keys) if prefix else not self.keys

    async def list(self) -> AsyncIterator[str]:
        for key in sorted(self.keys):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in sorted(self.keys):
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        inner = (k.removeprefix(f"{prefix}/") for k in self.keys if k.startswith(f"{prefix}/")) if prefix else \
            iter(self.keys)
        for name in sorted({k.split("/", 1)[0] for k in inner}):
            yield name

    # ---- writes -----------------------------------------------------------------------------------
    async def set(self, key: str, value: Buffer) -> None:
        if self._failure is not None:
            raise self._failure
        self.keys.add(key)
        if key in self.held_keys:
            self.held[key] = value
            return
        if key.rsplit("/", 1)[-1] in METADATA_NAMES:
            # written at flush(), once, whatever number of times zarr and xarray rewrite it before
            self.metadata[key] = value
            self.dirty.add(key)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        await self._slots.acquire()
        previous = self._inflight.get(key)
        if previous is not None:  # never two PUTs of one key in flight: the later must land last
            await asyncio.gather(previous, return_exceptions=True)
        self.pending[key] = value
        task = asyncio.get_running_loop().create_task(self._put(key, value))
        self._inflight[key] = task
        self._tasks.add(task)
        self.peak_in_flight = max(self.peak_in_flight, len(self._tasks))
        task.add_done_callback(self._tasks.discard)

    async def _put(self, key: str, value: Buffer, *, slot: bool = True) -> None:
        try:
            await self._store.set(key, value)
            self.puts += 1
            self.bytes_written += len(value)
        except BaseException as exc:  # kept for the writer: raised by the next set() and by flush()
            if self._failure is None:
                self._failure = exc
        finally:
            if self.pending.get(key) is value:
                del self.pending[key]
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
            if slot:
                assert self._slots is not None
                self._slots.release()

    async def _write_metadata(self) -> None:
        """PUT every metadata document changed since the last flush (concurrently, bounded)."""
        slots = asyncio.Semaphore(self.concurrency)

        async def one(key: str, value: Buffer) -> None:
            async with slots:
                await self._put(key, value, slot=False)

        dirty, self.dirty = sorted(self.dirty), set()
        await asyncio.gather(*(one(key, self.metadata[key]) for key in dirty if key in self.metadata))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if key not in self.keys:
            await self.set(key, value)

    async def _set_many(self, values: Iterable[tuple[str, Buffer]]) -> None:
        for key, value in values:
            await self.set(key, value)

    async def delete(self, key: str) -> None:
        self.keys.discard(key)
        self.dirty.discard(key)
        self.metadata.pop(key, None)
        if key in self.held_keys:
            self.held.pop(key, None)
            return
        await self._drain()
        await self._store.delete(key)

    async def delete_dir(self, prefix: str) -> None:
        prefix = prefix.rstrip("/")
        for key in [k for k in self.keys if not prefix or k == prefix or k.startswith(f"{prefix}/")]:
            await self.delete(key)

    # ---- finishing --------------------------------------------------------------------------------
    async def _drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _flush(self) -> None:
        await self._drain()
        if self._failure is None:
            await self._write_metadata()
        if self._failure is not None:
            raise self._failure

    def flush(self) -> None:
        """Wait for every write in flight; raise the first that failed."""
        sync(self._flush())

    def abort(self) -> None:
        """Wait for the writes in flight (their outcome no longer matters), so that nothing lands later."""
        sync(self._drain())

    def commit(self) -> None:
        """Write the held root documents, last (after :meth:`flush`): from now on the store opens."""
        async def run() -> None:
            await self._flush()
            for key in self.held_keys:
                if key in self.held:
                    await self._store.set(key, self.held[key])
                    self.puts += 1
                    self.bytes_written += len(self.held[key])

        sync(run())
