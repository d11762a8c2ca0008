"""Chunks of the large arrays, encoded and written by the thread that read them.

``zarr.Array.__setitem__`` hands every chunk to zarr's event loop, which passes the encoding and the file write to
two more threads: for a session's 460 KB trace chunks that round trip cost more than the zstd work, and two writing
threads got 1.4x one thread's speed (163 MB/s) where encoding and writing in the calling thread gets 2.0x (296 MB/s;
``benchmarks/chunk_writes.py``). A block covering whole chunks is encoded here by the array's own codecs, edge
chunks padded with the fill value as zarr pads them, and each chunk is stored with one call; any other block goes
through zarr.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import zarr
from zarr.abc.codec import ArrayBytesCodec, BytesBytesCodec
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.codec_pipeline import fill_value_or_default
from zarr.core.sync import sync
from zarr.storage import LocalStore

from . import files


class ChunkWriter:
    """A ``dask.array.store`` target: ``writer[region] = block`` stores ``block`` into ``array``.

    >>> import zarr
    >>> array = zarr.create_array(zarr.storage.MemoryStore(), shape=(5,), chunks=(2,), dtype="i4")
    >>> ChunkWriter(array)[0:5] = np.arange(5, dtype="i4")
    >>> array[:].tolist()
    [0, 1, 2, 3, 4]
    """

    def __init__(self, array: zarr.Array) -> None:
        self.array = array
        self.shape = array.shape
        metadata = array.metadata
        self.direct = (metadata.zarr_format == 3 and isinstance(metadata.chunk_grid, RegularChunkGrid)
                       and all(isinstance(c, ArrayBytesCodec | BytesBytesCodec) and hasattr(c, "_encode_sync")
                               for c in metadata.codecs))
        store = array.store_path.store
        self.prefix = f"{array.path}/" if array.path else ""
        self.folder = str(store.root) if isinstance(store, LocalStore) else None
        self.made: set[str] = set()

    def __setitem__(self, key: Any, value: Any) -> None:
        ranges = self._whole_chunks(key, value)
        if ranges is None:
            self.array[key] = value
            return
        metadata = self.array.metadata
        chunk = tuple(metadata.chunk_grid.chunk_shape)
        starts = [r.start * n for r, n in zip(ranges, chunk, strict=True)]
        for coords in itertools.product(*ranges):
            local = tuple(slice(c * n - s, min((c + 1) * n, size) - s)
                          for c, n, s, size in zip(coords, chunk, starts, self.shape, strict=True))
            self._put(coords, value[local], chunk)

    def _whole_chunks(self, key: Any, value: Any) -> list[range] | None:
        """The chunk coordinates ``key`` covers exactly (per axis), or None when zarr must merge."""
        if not self.direct or not isinstance(key, tuple) or len(key) != len(self.shape) or not self.shape \
                or not isinstance(value, np.ndarray) or value.dtype != self.array.metadata.dtype.to_native_dtype():
            return None
        ranges, spans = [], []
        for k, n, size in zip(key, self.array.metadata.chunk_grid.chunk_shape, self.shape, strict=True):
            if not isinstance(k, slice) or k.step not in (None, 1):
                return None
            start, stop, _ = k.indices(size)
            if start % n or (stop % n and stop != size) or stop <= start:
                return None
            ranges.append(range(start // n, -(-stop // n)))
            spans.append(stop - start)
        return ranges if value.shape == tuple(spans) else None

    def _put(self, coords: tuple[int, ...], values: np.ndarray, chunk: tuple[int, ...]) -> None:
        metadata, prototype = self.array.metadata, default_buffer_prototype()
        spec = metadata.get_chunk_spec(coords, self.array.config, prototype)
        if values.shape != chunk:  # an edge chunk: stored whole, the rest the fill value (as zarr does)
            full = np.full(chunk, fill_value_or_default(spec), dtype=values.dtype)
            full[tuple(slice(0, n) for n in values.shape)] = values
            values = full
        encoded = prototype.nd_buffer.from_ndarray_like(np.ascontiguousarray(values))
        for codec in metadata.codecs:
            encoded = codec._encode_sync(encoded, spec)
        key = self.prefix + metadata.encode_chunk_key(coords)
        if self.folder is None:
            sync(self.array.store_path.store.set(key, encoded))
            return
        # chunk keys "c/0/0" need folders; "c.0.0" sits beside zarr.json
        files.put_new_file(f"{self.folder}/{key}", memoryview(encoded.as_numpy_array()), made=self.made)
