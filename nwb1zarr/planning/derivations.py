"""Named derivations: store variables computed from source datasets (not copies of one).

A derivation receives ``read(path) -> numpy array`` for its inputs; inputs are small
(presentation tables, per-ROI pixel counts). The validator recomputes them from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import SourceDataError
from .registry import Registry

Reader = Callable[[str], np.ndarray]
Derivation = Callable[..., np.ndarray]
DERIVATIONS = Registry("derivation")
register = DERIVATIONS.register


@register("movie_repeat")
def movie_repeat(read: Reader, *, input: str) -> np.ndarray:
    """AllenSDK's movie `repeat` column: presentation i belongs to repeat i // n_unique_frames.

    >>> movie_repeat(lambda p: np.array([0, 1, 2, 0, 1, 2]), input="data").tolist()
    [0, 0, 0, 1, 1, 1]
    """
    frames = np.asarray(read(input))
    if frames.ndim != 1:
        raise SourceDataError(f"frame indices have shape {list(frames.shape)}, expected one axis (movie_repeat)",
                              path=input)
    n_unique = len(np.unique(frames))
    if n_unique == 0 or len(frames) % n_unique:
        raise SourceDataError(f"{len(frames)} presentations are not a whole number of repeats of "
                              f"{n_unique} frames (movie_repeat)", path=input)
    return np.repeat(np.arange(len(frames) // n_unique, dtype=np.int64), n_unique)


@register("where_equal")
def where_equal(read: Reader, *, input: str, mask: str, value: int, column: int | None = None,
                as_int64: bool = False) -> np.ndarray:
    """Rows of ``input`` where ``mask == value`` (AllenSDK's spontaneous start/end intervals).

    >>> where_equal(lambda p: {"d": np.array([1, -1]), "t": np.array([5.0, 9.0])}[p],
    ...             input="t", mask="d", value=-1).tolist()
    [9.0]
    """
    values, flags = np.asarray(read(input)), np.asarray(read(mask))
    if flags.ndim != 1 or values.ndim < 1 or len(values) != len(flags):
        raise SourceDataError(f"{mask} has shape {list(flags.shape)} but {input} has {list(values.shape)}; "
                              "they must have one row each (where_equal)", path=input)
    if column is not None and (values.ndim != 2 or not -values.shape[1] <= column < values.shape[1]):
        raise SourceDataError(f"no column {column} in shape {list(values.shape)} (where_equal)", path=input)
    rows = values[flags == value]
    if column is not None:
        rows = rows[:, column]
    if as_int64:
        out = rows.astype(np.int64)
        if rows.dtype.kind == "f" and not np.array_equal(out.astype(rows.dtype), rows):
            raise SourceDataError("frame indices are not exact integers (where_equal)", path=input)
        return out
    return rows


@register("concat_index")
def concat_index(read: Reader, *, items: list[str]) -> np.ndarray:
    """For a concatenation of per-item arrays, the item index of every row.

    >>> concat_index(lambda p: np.zeros({"a": 2, "b": 1}[p]), items=["a", "b"]).tolist()
    [0, 0, 1]
    """
    shapes = [np.shape(read(path)) for path in items]
    if any(not shape for shape in shapes):
        raise SourceDataError("an item is a scalar; rows cannot be counted (concat_index)",
                              path=items[[bool(s) for s in shapes].index(False)])
    lengths = [shape[0] for shape in shapes]
    return np.repeat(np.arange(len(items), dtype=np.int64), lengths)


@register("regular_time")
def regular_time(read: Reader, *, starting_time: str, rate: float, length: int) -> np.ndarray:
    """NWB 1.0 starting_time + rate -> timestamps: starting_time + arange(length) / rate.

    >>> regular_time(lambda p: np.float64(1.0), starting_time="s", rate=2.0, length=3).tolist()
    [1.0, 1.5, 2.0]
    """
    first = np.asarray(read(starting_time)).reshape(-1)
    if first.size != 1 or first.dtype.kind not in "iuf":
        raise SourceDataError(f"starting_time must be one number, found {first.dtype} x {first.size}",
                              path=starting_time)
    start = float(first[0])
    return start + np.arange(length, dtype=np.float64) / float(rate)


def derive(spec: Mapping[str, Any], read: Reader) -> np.ndarray:
    """Run the derivation a plan entry names."""
    params = {k: v for k, v in spec.items() if k != "name"}
    return DERIVATIONS[spec["name"]](read, **params)
