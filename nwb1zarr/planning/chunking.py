"""Choosing store chunk shapes (about 1-16 MB, 4 MB aimed for) from an array's dims and size.

ROI x time traces are the exception: 8 ROIs by about 2**14 frames (under 0.5 MB). Measured on a
full-size session (benchmarks/chunk_shapes.py, see benchmarks/RESULTS.md), that shape is the one
where both one ROI's full trace and all ROIs over a 30 s window read at least as fast from the store
as from the gzip HDF5 source; 4 MB chunks (16 x 57 500) made the window read 2-3x slower than h5py.
"""

from __future__ import annotations

import math

TARGET_BYTES = 4 * 1024 * 1024
MAX_BYTES = 16 * 1024 * 1024
# Axes shrunk first, down to the given floor, before any other axis is split: ROI traces keep
# long runs of time per chunk (one ROI's trace, a time window).
SHRINK_FIRST = {"roi": 16, "frame": 1, "presentation": 1024, "pixel": 65536}
IMAGE_DIMS = {"y", "x"}
TRACE_DIMS = {"roi", "time"}
TRACE_ROIS = 8
TRACE_BYTES = 512 * 1024
# Image stacks: more frames per chunk compress better (natural movies under zstd 9: 1.48x with 15
# frames, 1.56x with 60, against gzip 4's 1.58x in the source); one frame still reads in ~20 ms.
IMAGE_BYTES = 12 * 1024 * 1024


def choose_chunks(shape: tuple[int, ...], dims: tuple[str, ...], itemsize: int, *,
                  target_bytes: int = TARGET_BYTES) -> tuple[int, ...]:
    """Chunk shape for one store array. Image stacks keep whole images (about 12 MB, at most 16 MB).

    >>> choose_chunks((200, 115000), ("roi", "time"), 4)
    (8, 14375)
    >>> choose_chunks((3600, 304, 608), ("frame", "y", "x"), 1)
    (57, 304, 608)
    >>> choose_chunks((118, 918, 1174), ("frame", "y", "x"), 4)
    (2, 918, 1174)
    """
    chunks = [max(1, s) for s in shape]
    itemsize = max(1, itemsize)

    def size() -> int:
        return math.prod(chunks) * itemsize

    images = set(dims) >= IMAGE_DIMS
    traces = not images and set(dims) >= TRACE_DIMS
    if traces:
        target_bytes = min(target_bytes, TRACE_BYTES)
    elif images:
        target_bytes = max(target_bytes, IMAGE_BYTES)
    for axis, dim in enumerate(dims):
        floor = 1 if images and dim in ("roi", "frame") else TRACE_ROIS if traces and dim == "roi" \
            else SHRINK_FIRST.get(dim)
        while floor is not None and size() > target_bytes and chunks[axis] > floor:
            chunks[axis] = max(floor, math.ceil(chunks[axis] / 2))
    if images and size() <= MAX_BYTES:
        return tuple(chunks)
    while size() > target_bytes:
        free = [a for a in range(len(chunks)) if dims[a] not in SHRINK_FIRST and chunks[a] > 1]
        axis = max(free or range(len(chunks)), key=lambda a: chunks[a])
        if chunks[axis] == 1:
            break
        chunks[axis] = math.ceil(chunks[axis] / 2)
    return tuple(chunks)
