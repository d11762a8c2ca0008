"""Chunk manifests from the HDF5 chunk index: h5py's ``chunk_iter`` -> VirtualiZarr ``ChunkManifest`` /
``ManifestArray`` (paths are the source's URL, offsets and lengths its chunks' byte ranges).

``chunk_iter`` visits every allocated chunk once (h5py >= 3.8 with HDF5 >= 1.12.3; ``get_chunk_info(i)`` per chunk
is O(n) each). A dataset with an unallocated chunk, or a chunk whose filters were skipped (a non-zero filter mask),
gets no manifest: it is materialised instead.
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import numpy as np

from .eligible import Layout


def chunk_table(dataset: h5py.Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """Offsets and lengths of every chunk of ``dataset`` over its chunk grid (uint64), or None when a chunk is
    unallocated or stored with some filter skipped."""
    grid = tuple(math.ceil(n / c) for n, c in zip(dataset.shape, dataset.chunks, strict=True))
    offsets = np.zeros(grid, dtype=np.uint64)
    lengths = np.zeros(grid, dtype=np.uint64)
    seen = np.zeros(grid, dtype=bool)
    clean = True

    def visit(info: Any) -> None:
        nonlocal clean
        index = tuple(o // c for o, c in zip(info.chunk_offset, dataset.chunks, strict=True))
        if info.filter_mask or info.byte_offset is None:
            clean = False
            return
        offsets[index], lengths[index], seen[index] = info.byte_offset, info.size, True

    dataset.id.chunk_iter(visit)
    if not clean or not seen.all():
        return None
    return offsets, lengths


def manifest_array(tables: list[tuple[np.ndarray, np.ndarray]], layout: Layout, *, url: str,
                   dims: tuple[str, ...], stacked: bool) -> Any:
    """A ``ManifestArray`` over the chunks in ``tables`` (one per source dataset; ``stacked``: a new first axis)."""
    from virtualizarr.manifests import ChunkManifest, ManifestArray
    from virtualizarr.manifests.utils import create_v3_array_metadata

    if stacked:
        offsets = np.stack([t[0] for t in tables])
        lengths = np.stack([t[1] for t in tables])
    else:
        offsets, lengths = tables[0]
    paths = np.full(offsets.shape, url, dtype=np.dtypes.StringDType())
    manifest = ChunkManifest.from_arrays(paths=paths, offsets=offsets, lengths=lengths, validate_paths=False)
    metadata = create_v3_array_metadata(shape=layout.shape, data_type=layout.dtype, chunk_shape=layout.chunks,
                                        fill_value=layout.fill_value, codecs=list(layout.codecs),
                                        dimension_names=dims)
    return ManifestArray(metadata=metadata, chunkmanifest=manifest)
