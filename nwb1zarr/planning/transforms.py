"""Named, pure transforms between a source dataset and a store variable.

Profiles name these; the converter and the validator both apply them from here, so the
validator recomputes exactly what the definition says. Each transform works on numpy and
dask arrays alike (it only indexes, casts and checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dask.array as da
import numpy as np

from ..errors import SourceDataError
from .registry import Registry

Transform = Callable[..., Any]
TRANSFORMS = Registry("transform")
register = TRANSFORMS.register
CHECKED_TRANSFORMS = frozenset({"exact_int64"})
"""Transforms that refuse some values: the planner tries them on the source before mapping anything."""


@register("column")
def column(array: Any, *, index: int) -> Any:
    """Select one column of the last axis.

    >>> column(np.array([[1, 2], [3, 4]]), index=1).tolist()
    [2, 4]
    """
    n = array.shape[-1] if array.ndim else 0
    if not -n <= index < n:
        raise SourceDataError(f"no column {index}: shape is {list(array.shape)} (column)")
    return array[..., index]


@register("drop_trailing_singleton")
def drop_trailing_singleton(array: Any) -> Any:
    """(n, 1) -> (n,); anything else unchanged (pipeline 0.9 running speed is stored (n, 1)).

    >>> drop_trailing_singleton(np.zeros((3, 1))).shape
    (3,)
    """
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    return array


def _exact_int64_block(block: np.ndarray) -> np.ndarray:
    out = block.astype(np.int64)
    if block.dtype.kind == "f" and not np.array_equal(out.astype(block.dtype), block):
        bad = int(np.flatnonzero(out.astype(block.dtype).reshape(-1) != block.reshape(-1))[0])
        raise SourceDataError(f"value {block.reshape(-1)[bad]!r} is not an exact integer (exact_int64)")
    return out


@register("exact_int64")
def exact_int64(array: Any) -> Any:
    """Cast frame indices to int64, refusing any value that is not exactly an integer.

    >>> exact_int64(np.array([747.0, 754.0], dtype="f4")).tolist()
    [747, 754]
    """
    if array.dtype == np.int64:
        return array
    if isinstance(array, da.Array):
        return array.map_blocks(_exact_int64_block, dtype=np.int64)
    return _exact_int64_block(np.asarray(array))


def apply_steps(array: Any, steps: Sequence[Mapping[str, Any]] | None) -> Any:
    """Apply a profile's transform steps in order.

    >>> apply_steps(np.array([[1.0, 2.0]]), [{"name": "column", "index": 1}, {"name": "exact_int64"}]).tolist()
    [2]
    """
    for step in steps or ():
        params = {k: v for k, v in step.items() if k != "name"}
        array = TRANSFORMS[step["name"]](array, **params)
    return array


def describe(steps: Sequence[Mapping[str, Any]] | None) -> str:
    """The store attribute `nwb1_transform` for a list of steps: 'column(index=0) | exact_int64'."""
    parts = []
    for step in steps or ():
        args = ", ".join(f"{k}={v!r}" for k, v in step.items() if k != "name")
        parts.append(f"{step['name']}({args})" if args else step["name"])
    return " | ".join(parts)
