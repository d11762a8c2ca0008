"""Named checks a profile runs on the source before mapping (e.g. which way ROI pixel lists are stored).

A check reads source datasets and returns facts that decide how variables are named, plus the group
attributes that record those facts in the store. The validator re-runs the same check on the source
when it re-derives the plan, so a store's naming is proved, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import store_attrs as sa
from ..errors import SourceDataError
from .registry import Registry

CHECKS = Registry("check")
register = CHECKS.register
Reader = Callable[[str], Any]

SPEC, TRANSPOSED = "x,y", "y,x"


def run_check(name: str, read: Reader, **params: Any) -> dict[str, Any]:
    """Run the check a profile names."""
    return CHECKS[name](read, **params)


def _holds(mask: np.ndarray, pix: np.ndarray, weight: np.ndarray, x_column: int) -> bool:
    """Whether ``img_mask`` is exactly the pixel list drawn with column ``x_column`` as x (img_mask[y, x])."""
    if mask.ndim != 2 or pix.ndim != 2 or pix.shape[1] != 2 or weight.shape != (pix.shape[0],):
        return False
    if pix.dtype.kind not in "iu" or weight.dtype.kind not in "iuf":
        return False
    x, y = pix[:, x_column].astype(np.int64), pix[:, 1 - x_column].astype(np.int64)
    if x.size and (x.min() < 0 or y.min() < 0 or x.max() >= mask.shape[1] or y.max() >= mask.shape[0]):
        return False
    if np.unique(y * mask.shape[1] + x).size != x.size:
        return False
    # The mask drawn from the list equals img_mask: every listed pixel holds its weight, and no other pixel
    # is nonzero (a NaN anywhere fails both, as it fails an element-wise comparison).
    listed = mask[y, x].astype(np.float64)
    return bool(np.array_equal(listed, weight.astype(np.float64))
                and np.count_nonzero(mask) == np.count_nonzero(listed))


@register("pix_mask_orientation")
def pix_mask_orientation(read: Reader, *, over: str, mask: list[str], pixels: list[str],
                         weight: list[str]) -> dict[str, Any]:
    """Which column of each ROI's ``pix_mask`` is x, verified against its ``img_mask`` for every ROI.

    The NWB 1.0 spec says rows are (x, y) with ``img_mask[y, x] == weight``; a converter of the real files
    reports them transposed. Both are tried; columns are named x / y only when one holds for every ROI
    (a symmetric ROI agrees with both), else by position (``pix_mask_0``, ``pix_mask_1``).

    >>> m = {"m": np.array([[0, 1.0], [0, 0]]), "p": np.array([[1, 0]], "u2"), "w": np.array([1.0])}
    >>> pix_mask_orientation(m.__getitem__, over="l", mask=["m"], pixels=["p"], weight=["w"])["columns"]
    ['x', 'y']
    """
    if not mask:
        raise SourceDataError("no ROIs to check", path=over)
    spec = transposed = 0
    for m, p, w in zip(mask, pixels, weight, strict=True):
        img, pix, wt = np.asarray(read(m)), np.asarray(read(p)), np.asarray(read(w))
        spec += _holds(img, pix, wt, 0)
        transposed += _holds(img, pix, wt, 1)
    n = len(mask)
    if spec == n:
        columns, orientation = ["x", "y"], SPEC
        text = f"pix_mask rows are (x, y): img_mask[y, x] == pix_mask_weight, verified for all {n} ROIs"
    elif transposed == n:
        columns, orientation = ["y", "x"], TRANSPOSED
        text = f"pix_mask rows are (y, x): img_mask[y, x] == pix_mask_weight, verified for all {n} ROIs (transposed)"
    else:
        columns, orientation = ["pix_mask_0", "pix_mask_1"], "neither"
        text = (f"neither orientation matches img_mask for every ROI ((x, y) for {spec} of {n}, (y, x) for "
                f"{transposed} of {n}); columns named by position")
    column_attrs = {c: {"description": f"pix_mask column {i} as stored", sa.PIX_MASK_COLUMN: i}
                    for i, c in enumerate(columns)}
    return {"columns": columns, "column_attrs": column_attrs, "orientation": orientation,
            "group_attrs": {sa.PIX_MASK_ORIENTATION: orientation, sa.PIX_MASK_ORIENTATION_DETAIL: text},
            "problem": None if orientation != "neither" else text}
