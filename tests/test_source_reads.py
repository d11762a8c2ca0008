"""Chunk-wise source reads (read_region): bit-identical to h5py, and every libhdf5 call under h5py's lock."""

from __future__ import annotations

import math
import zlib
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np
from h5py._objects import phil
from hypothesis import given, settings
from hypothesis import strategies as st

from nwb1zarr.writing import source_arrays
from nwb1zarr.writing.source_arrays import read_region


def _file(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "chunks.h5"
    with h5py.File(path, "w") as f:
        for i in range(8):
            f.create_dataset(f"small{i}", data=np.array([64 + i, 64 + i], "i4"), chunks=(2,), compression="gzip")
            f.create_dataset(f"big{i}", data=rng.standard_normal((900, 30)).astype("f4"), chunks=(100, 30),
                             compression="gzip")
    return path


def test_threads_read_the_same_values_as_h5py(tmp_path):
    with h5py.File(_file(tmp_path), "r") as f:
        expected = {name: f[name][()] for name in f}

        def read(i: int) -> list[str]:
            wrong = []
            for name in (f"small{i % 8}", f"big{i % 8}"):
                dataset = f[name]
                got = read_region(dataset, (slice(3 if name.startswith("big") else 0, None),) +
                                  (slice(None),) * (dataset.ndim - 1))
                want = expected[name][3:] if name.startswith("big") else expected[name]
                if got.tobytes() != want.tobytes():
                    wrong.append(name)
                f[f"big{(i * 3) % 8}"][10:400]  # a plain h5py read beside it, in another thread
            return wrong

        with ThreadPoolExecutor(4) as pool:
            assert [name for wrong in pool.map(read, range(60)) for name in wrong] == []


class _LockCheckingID:
    """Stands for a DatasetID: records whether h5py's lock is held by the caller of read_direct_chunk."""

    def __init__(self, raw: bytes) -> None:
        self.raw, self.held = raw, []

    def read_direct_chunk(self, origin: tuple[int, ...]) -> tuple[int, bytes]:
        self.held.append(phil._is_owned())
        return 0, self.raw


class _Dataset:
    def __init__(self, raw: bytes) -> None:
        self.id = _LockCheckingID(raw)
        self.dtype = np.dtype("i4")


def test_read_direct_chunk_runs_under_h5py_lock():
    """h5py's own read_direct_chunk does not take its lock (phil) and libhdf5 is not thread-safe."""
    dataset = _Dataset(zlib.compress(np.array([64, 64], "i4").tobytes()))
    block = source_arrays._inflate(dataset, (0,), (2,))
    assert block is not None and block.tolist() == [64, 64]
    assert dataset.id.held == [True]


def test_isal_inflates_and_leaves_a_damaged_chunk_to_h5py(tmp_path):
    """ISA-L (a dependency) inflates; its output is h5py's; a chunk it cannot inflate is read by h5py instead,
    which names the fault."""
    assert source_arrays.inflate.__module__.startswith("isal")
    with h5py.File(_file(tmp_path), "r") as f:
        for i in range(8):
            assert read_region(f[f"big{i}"], (slice(50, 850), slice(0, 30))).tobytes() == \
                f[f"big{i}"][50:850].tobytes()
    assert source_arrays._inflate(_Dataset(b"not a deflate stream"), (0,), (2,)) is None
    wrong_size = zlib.compress(np.arange(3, dtype="i4").tobytes())
    assert source_arrays._inflate(_Dataset(wrong_size), (0,), (2,)) is None


class _Shape:
    def __init__(self, shape, chunks, itemsize):
        self.shape, self.chunks, self.dtype = shape, chunks, np.dtype(f"u{itemsize}")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 400), st.integers(1, 400)), min_size=1, max_size=3),
       st.sampled_from([1, 4, 8]))
def test_read_blocks_never_cut_an_hdf5_chunk(axes, itemsize):
    """Each HDF5 chunk is decompressed once: no read-block edge falls inside one (unless the block would exceed
    the size limit), and every block is made of whole store chunks along all axes but the first."""
    shape = tuple(n for n, _, _ in axes)
    source = tuple(min(h, n) for n, h, _ in axes)
    store = tuple(min(c, n) for n, _, c in axes)
    blocks = source_arrays.read_chunks(_Shape(shape, source, itemsize), store)
    assert len(blocks) == len(shape)
    aligned = [c if c >= n or c % h == 0 else min(math.lcm(c, h), n) for n, h, c in zip(shape, source, store,
                                                                                          strict=True)]
    if math.prod(aligned) * itemsize <= source_arrays.READ_BLOCK_MAX:  # then no block edge cuts an HDF5 chunk
        for n, h, b in zip(shape, source, blocks, strict=True):
            assert b >= n or b % h == 0, (shape, source, store, blocks)
    assert math.prod(blocks) * itemsize <= max(source_arrays.READ_BLOCK_MAX, math.prod(store) * itemsize)
    for axis, (n, c, b) in enumerate(zip(shape, store, blocks, strict=True)):
        if axis:
            assert b == n or b % c == 0
        assert b >= c or b >= n
