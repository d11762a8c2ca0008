"""ChunkWriter stores exactly what ``zarr.Array.__setitem__`` stores: the same chunk bytes, edges included."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr
from zarr.codecs import ZstdCodec
from zarr.storage import LocalStore, MemoryStore

from nwb1zarr.writing.chunk_writer import ChunkWriter


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def make(store: object, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: str, separator: str) -> zarr.Array:
    return zarr.create_array(store, shape=shape, chunks=chunks, dtype=dtype, compressors=[ZstdCodec(level=3)],
                             fill_value=np.nan if dtype.startswith("f") else 0,
                             chunk_key_encoding={"name": "default", "separator": separator},
                             config={"write_empty_chunks": True})


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize(("shape", "chunks", "dask_chunks", "dtype"), [
    ((200, 1150), (8, 300), (8, 300), "<f4"),          # edge chunks on the second axis
    ((21, 17, 5), (4, 17, 5), (8, 17, 5), "<u2"),       # blocks of two chunks, a short last one
    ((10,), (3,), (6,), "<i8"),
    ((9, 9), (3, 3), (4, 4), "<f8"),                   # blocks not on chunk boundaries: zarr merges them
])
def test_same_bytes_as_zarr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, separator: str,
                            shape: tuple[int, ...], chunks: tuple[int, ...], dask_chunks: tuple[int, ...],
                            dtype: str) -> None:
    rng = np.random.default_rng(1)
    values = (rng.standard_normal(shape) * 100).astype(dtype)
    source = da.from_array(values, chunks=dask_chunks)
    theirs, ours = tmp_path / "zarr.zarr", tmp_path / "ours.zarr"
    lock = any(d % c for d, c in zip(dask_chunks, chunks, strict=True))  # blocks sharing chunks: one at a time
    da.store(source, make(LocalStore(theirs), shape, chunks, dtype, separator), lock=lock)
    if not lock:  # whole chunks: zarr's own write path is not used at all
        monkeypatch.setattr(zarr.Array, "__setitem__", lambda *a: pytest.fail("went through zarr"))
    da.store(source, ChunkWriter(make(LocalStore(ours), shape, chunks, dtype, separator)), lock=lock)
    assert files(ours) == files(theirs)
    np.testing.assert_array_equal(zarr.open_array(LocalStore(ours), mode="r")[...], values)


def test_other_stores_and_other_dtypes() -> None:
    """A non-local store gets each chunk through its own ``set``; a block of another dtype goes through zarr."""
    store = MemoryStore()
    array = make(store, (6, 4), (2, 4), "<f4", ".")
    writer = ChunkWriter(array)
    writer[0:4, 0:4] = np.arange(16, dtype="<f4").reshape(4, 4)
    writer[4:6, 0:4] = np.arange(8, dtype=">f8").reshape(2, 4)   # cast by zarr, as before
    expected = np.concatenate([np.arange(16).reshape(4, 4), np.arange(8).reshape(2, 4)]).astype("<f4")
    np.testing.assert_array_equal(array[...], expected)
    assert sorted(k for k in store._store_dict if k.startswith("c")) == ["c.0.0", "c.1.0", "c.2.0"]
