"""Content digests over logical array values, independent of chunking and encoding.

The array is cut along its first axis into blocks of a size fixed by its shape alone; each
block's canonical bytes (little-endian C order; strings as length-prefixed UTF-8) are hashed,
and the digest is sha256 over a header (dtype, shape) and the block hashes. Re-chunking or
re-compressing a store leaves digests unchanged; any changed element changes one.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any

import dask
import dask.array as da
import numpy as np

DIGEST_ALGORITHM = "sha256-rowblocks-v1"
BLOCK_BYTES = 4 * 1024 * 1024


def file_sha256(path: Any) -> str:
    """sha256 of a file's bytes (a Path, or a remote source with ``open``), read in 8 MB blocks; convert runs it
    as a task of the write pass, the validator on its own."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def canonical_dtype(dtype: np.dtype) -> str:
    """'str' for text, else the little-endian numpy type string ('<f4', '|u1')."""
    if dtype.kind in "OUST":
        return "str"
    return dtype.newbyteorder("<").str if dtype.byteorder not in "|" else dtype.str


def rows_per_block(shape: tuple[int, ...], itemsize: int) -> int:
    row = math.prod(shape[1:]) * max(1, itemsize)
    return max(1, BLOCK_BYTES // max(1, row))


def block_hash(block: np.ndarray) -> bytes:
    """sha256 of one block's canonical bytes."""
    h = hashlib.sha256()
    if block.dtype.kind in "OUST":
        for value in np.asarray(block).reshape(-1):
            raw = (value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else str(value)).encode()
            h.update(struct.pack("<I", len(raw)))
            h.update(raw)
    else:
        h.update(np.ascontiguousarray(block, dtype=block.dtype.newbyteorder("<")).tobytes())
    return h.digest()


def _combine(dtype: str, shape: tuple[int, ...], hashes: list[bytes]) -> str:
    h = hashlib.sha256(f"{DIGEST_ALGORITHM};{dtype};{list(shape)}".encode())
    for part in hashes:
        h.update(part)
    return h.hexdigest()


def numpy_digest(array: Any) -> str:
    """Digest of an in-memory array.

    >>> numpy_digest(np.arange(3, dtype="<i8")) == numpy_digest(np.arange(3, dtype=">i8"))
    True
    """
    array = np.asarray(array)
    if array.ndim == 0:
        return _combine(canonical_dtype(array.dtype), (), [block_hash(array.reshape(1))])
    step = rows_per_block(array.shape, 16 if array.dtype.kind in "OUST" else array.dtype.itemsize)
    hashes = [block_hash(array[i:i + step]) for i in range(0, array.shape[0], step)]
    return _combine(canonical_dtype(array.dtype), array.shape, hashes)


def lazy_digest(array: Any) -> Any:
    """A dask Delayed digest of a dask array (numpy arrays are digested at once)."""
    if not isinstance(array, da.Array):
        return numpy_digest(array)
    if array.ndim == 0:
        return dask.delayed(numpy_digest)(array)
    if array.shape[0] == 0:  # no blocks at all, exactly as numpy_digest sees it
        return dask.delayed(_combine)(canonical_dtype(array.dtype), tuple(array.shape), [])
    step = rows_per_block(array.shape, 16 if array.dtype.kind in "OUST" else array.dtype.itemsize)
    blocks = array.rechunk({0: step, **{i: -1 for i in range(1, array.ndim)}})
    parts = [dask.delayed(block_hash)(b) for b in blocks.to_delayed().reshape(-1)]
    return dask.delayed(_combine)(canonical_dtype(array.dtype), tuple(array.shape), parts)
