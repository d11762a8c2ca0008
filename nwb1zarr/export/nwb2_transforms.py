"""Named transforms from store values to NWB 2 values, applied by the writer and, from here, by the validator.

``schemas/nwb2_export.json`` names them; each is a pure function on numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

EXPORT_TRANSFORMS: dict[str, Callable[..., Any]] = {}


def _register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        EXPORT_TRANSFORMS[name] = function
        return function
    return decorate


@_register("transpose")
def transpose(array: Any) -> Any:
    """(roi, time) -> (time, roi): NWB 2 puts time first.

    >>> transpose(np.arange(6).reshape(2, 3)).shape
    (3, 2)
    """
    return array.T


@_register("split_frames")
def split_frames(array: Any, *, index: int) -> Any:
    """One frame of an image stack (each template frame is its own NWB 2 image).

    >>> split_frames(np.arange(8).reshape(2, 2, 2), index=1).tolist()
    [[4, 5], [6, 7]]
    """
    return array[index]


@_register("ragged_ends")
def ragged_ends(array: Any, *, rows: int) -> np.ndarray:
    """Per-pixel row numbers (sorted) -> the end offset of each row's pixels (an NWB 2 VectorIndex).

    >>> ragged_ends(np.array([0, 0, 2]), rows=3).tolist()
    [2, 2, 3]
    """
    values = np.asarray(array)
    if values.size and (np.any(np.diff(values) < 0) or values.min() < 0 or values.max() >= rows):
        raise ValueError(f"row numbers are not sorted within 0..{rows - 1}")
    return np.cumsum(np.bincount(values.astype(np.int64), minlength=rows)).astype(np.int64)


@_register("time_at_frame")
def time_at_frame(frames: Any, *, times: Any) -> np.ndarray:
    """The timestamp of each frame index (NaN where the index is outside the timestamps).

    >>> time_at_frame(np.array([0, 2, 5]), times=np.array([0.5, 1.5, 2.5])).tolist()
    [0.5, 2.5, nan]
    """
    frames, times = np.asarray(frames, dtype=np.int64), np.asarray(times, dtype=np.float64)
    inside = (frames >= 0) & (frames < times.size)
    out = np.full(frames.shape, np.nan)
    out[inside] = times[frames[inside]]
    return out


def apply(array: Any, steps: Sequence[Mapping[str, Any]], **context: Any) -> Any:
    """Apply the mapping's steps in order; ``context`` supplies parameters the mapping names by path.

    >>> apply(np.zeros((2, 3)), [{"name": "transpose"}]).shape
    (3, 2)
    """
    for step in steps:
        params = {k: context.get(k, v) for k, v in step.items() if k != "name"}
        array = EXPORT_TRANSFORMS[step["name"]](array, **params)
    return array
