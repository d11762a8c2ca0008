"""The pix_mask orientation check against its definition: the mask drawn from the pixel list equals img_mask."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nwb1zarr.planning.verifications import _holds


def drawn_equals(mask: np.ndarray, pix: np.ndarray, weight: np.ndarray, x_column: int) -> bool:
    """The definition, spelled out: draw the list into an empty image and compare every pixel."""
    x, y = pix[:, x_column].astype(np.int64), pix[:, 1 - x_column].astype(np.int64)
    if x.size and (x.min() < 0 or y.min() < 0 or x.max() >= mask.shape[1] or y.max() >= mask.shape[0]):
        return False
    if len(set(zip(y.tolist(), x.tolist(), strict=True))) != len(x):
        return False
    drawn = np.zeros(mask.shape, dtype=np.float64)
    drawn[y, x] = weight.astype(np.float64)
    return bool(np.array_equal(drawn, mask.astype(np.float64)))


values = st.sampled_from([0.0, -0.0, 1.0, 0.5, np.nan, 2.0])


@st.composite
def roi(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    n = draw(st.integers(0, 6))
    pix = np.array([[draw(st.integers(-1, 5)), draw(st.integers(-1, 5))] for _ in range(n)], dtype=np.int64)
    pix = pix.reshape(n, 2)
    weight = np.array([draw(values) for _ in range(n)], dtype=np.float32)
    mask = np.zeros((h, w), dtype=np.float32)
    for (a, b), v in zip(pix.tolist(), weight.tolist(), strict=True):  # draw it one way or the other, or not
        how = draw(st.sampled_from(["xy", "yx", "skip"]))
        y, x = (b, a) if how == "xy" else (a, b)
        if how != "skip" and 0 <= y < h and 0 <= x < w:
            mask[y, x] = v
    if draw(st.booleans()):
        mask[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = draw(values)
    return mask, pix, weight


@settings(max_examples=400, deadline=None)
@given(roi(), st.sampled_from([0, 1]))
def test_check_agrees_with_its_definition(case: tuple[np.ndarray, np.ndarray, np.ndarray], x_column: int) -> None:
    mask, pix, weight = case
    assert _holds(mask, pix, weight, x_column) == drawn_equals(mask, pix, weight, x_column)


def test_both_answers_occur() -> None:
    mask = np.zeros((4, 5), dtype=np.float32)
    mask[1, 3] = 0.5
    pix, weight = np.array([[3, 1]], dtype=np.uint16), np.array([0.5], dtype=np.float32)
    assert _holds(mask, pix, weight, 0) and not _holds(mask, pix, weight, 1)
    mask[0, 0] = np.nan
    assert not _holds(mask, pix, weight, 0)
