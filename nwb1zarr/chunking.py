"""Choosing store chunk shapes (about 1-16 MB, 4 MB aimed for) from an array's dims and size."""

from __future__ import annotations

import math

TARGET_BYTES = 4 * 1024 * 1024
MAX_BYTES = 16 * 1024 * 1024
# Axes shrunk first, down to the given floor, before any other axis is split: ROI traces keep
# long runs of time per chunk (one ROI's trace, a time window).
SHRINK_FIRST = {"roi": 16, "frame": 1, "presentation": 1024, "pixel": 65536}
IMAGE_DIMS = {"y", "x"}


def choose_chunks(shape: tuple[int, ...], dims: tuple[str, ...], itemsize: int, *,
                  target_bytes: int = TARGET_BYTES) -> tuple[int, ...]:
    """Chunk shape for one store array. Image stacks keep whole images (up to 16 MB).

    >>> choose_chunks((200, 115000), ("roi", "time"), 4)
    (16, 57500)
    >>> choose_chunks((3600, 304, 608), ("frame", "y", "x"), 1)
    (15, 304, 608)
    >>> choose_chunks((118, 918, 1174), ("frame", "y", "x"), 4)
    (1, 918, 1174)
    """
    chunks = [max(1, s) for s in shape]
    itemsize = max(1, itemsize)

    def size() -> int:
        return math.prod(chunks) * itemsize

    images = set(dims) >= IMAGE_DIMS
    for axis, dim in enumerate(dims):
        floor = 1 if images and dim in ("roi", "frame") else SHRINK_FIRST.get(dim)
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
