"""What the session summary draws, read from a store with bounded memory (no matplotlib here).

Every reader takes a lazily opened ``xr.DataTree`` and reads at most about ``max_bytes`` of an array at a
time: traces are reduced to block statistics over time (a full-size dF/F, 200 ROIs x 115,000 frames, is
read in slices of whole blocks and kept as a few thousand columns), ROI masks are read a few ROIs at a
time and kept as cropped boolean masks, templates one frame each.  Each reader returns ``None`` (or an
empty collection) when the store lacks what it reads, so a picture can be drawn from whatever is there.

Example:
    >>> import numpy as np, xarray as xr
    >>> series = xr.DataArray(np.arange(10.0), dims="time", coords={"time": np.arange(10.0) / 10})
    >>> b = binned(series, "time", series["time"].values, max_columns=5)
    >>> b.mean.tolist(), b.start, b.stop
    ([0.5, 2.5, 4.5, 6.5, 8.5], 0.0, 0.9)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from .allensdk import EPOCH_THRESHOLDS

MAX_BYTES = 16 * 2**20
"""Largest slice of a store array read at once (bytes, as stored)."""
DEFAULT_EPOCH_GAP_FRAMES = 15
"""Epoch gap (2p frames) for a session type AllenSDK has no threshold for (three_session_B's)."""
DEFAULT_FRAME_PERIOD = 1 / 30
"""Seconds per 2p frame when a store has no ``/ophys/time`` to measure it from."""
BRAIN_OBSERVATORY_GROUPS = ("ophys", "rois", "stimulus", "behavior")
"""Top-level groups of a Brain Observatory store; a store with none of them has nothing to draw."""


@dataclass(frozen=True)
class Binned:
    """Block statistics of a series along time: ``mean`` (and for 1-D series ``low`` / ``high``).

    ``mean`` has the series' other dimensions first and one column per block last; ``centres`` are the
    block mean times; ``start`` / ``stop`` the first and last sample times.  Blocks with no finite value are NaN.
    """

    centres: np.ndarray
    mean: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    block: int
    start: float
    stop: float


@dataclass(frozen=True)
class Epoch:
    """A contiguous run of one stimulus' presentations, in seconds on the session clock."""

    stimulus: str
    start: float
    stop: float
    presentations: int


@dataclass(frozen=True)
class Outline:
    """One ROI's mask cropped to its bounding box (with a one-pixel empty border), as booleans."""

    roi: int
    y0: int
    x0: int
    inside: np.ndarray


def _reduce_blocks(values: np.ndarray, block: int, extremes: bool) -> tuple[np.ndarray, ...]:
    """NaN-aware mean (and min, max) over consecutive blocks of ``block`` samples along the last axis.

    Works on the values as read (no float64 copy of the slice); sums are accumulated in float64.
    """
    n = values.shape[-1]
    n_blocks = -(-n // block)
    if n_blocks * block != n:
        if values.dtype.kind != "f":
            values = values.astype(np.float64)
        fill = np.full((*values.shape[:-1], n_blocks * block - n), np.nan, dtype=values.dtype)
        values = np.concatenate([values, fill], axis=-1)
    blocks = values.reshape(*values.shape[:-1], n_blocks, block)
    finite = np.isfinite(blocks)
    if finite.all():
        mean = blocks.mean(axis=-1, dtype=np.float64)
        empty = np.zeros(mean.shape, dtype=bool)
    else:
        count = finite.sum(axis=-1)
        empty = count == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(finite, blocks, 0).sum(axis=-1, dtype=np.float64) / count
        mean[empty] = np.nan
    if not extremes:
        return (mean,)
    low = np.where(finite, blocks, np.inf).min(axis=-1).astype(np.float64)
    high = np.where(finite, blocks, -np.inf).max(axis=-1).astype(np.float64)
    low[empty] = np.nan
    high[empty] = np.nan
    return mean, low, high


def binned(array: xr.DataArray, dim: str, times: np.ndarray, *, max_columns: int,
           max_bytes: int = MAX_BYTES) -> Binned:
    """Block statistics of ``array`` along ``dim`` (sample ``i`` at ``times[i]``), at most ``max_columns`` blocks.

    Reads ``array`` in slices of whole blocks of at most ``max_bytes`` (as stored, or one block when a
    block is larger); only the first ``len(times)`` samples are used when ``array`` is longer than
    ``times`` (and vice versa).
    """
    n = min(array.sizes[dim], len(times))
    if n == 0:
        raise ValueError(f"no samples along {dim!r}")
    block = max(1, -(-n // max(1, max_columns)))
    row_bytes = array.dtype.itemsize * max(1, array.size // max(1, array.sizes[dim]))
    step = block * max(1, max_bytes // (row_bytes * block))
    extremes = array.ndim == 1
    parts: list[tuple[np.ndarray, ...]] = []
    for first in range(0, n, step):
        piece = array.isel({dim: slice(first, min(first + step, n))}).transpose(..., dim)
        parts.append(_reduce_blocks(np.asarray(piece.values), block, extremes))
    stats = [np.concatenate(column, axis=-1) for column in zip(*parts, strict=True)]
    t = np.asarray(times[:n], dtype=np.float64)
    (centres,) = _reduce_blocks(t, block, extremes=False)
    return Binned(centres=centres, mean=stats[0], low=stats[1] if extremes else None,
                  high=stats[2] if extremes else None, block=block, start=float(t[0]), stop=float(t[-1]))


def has_session_groups(dt: xr.DataTree) -> bool:
    """Whether the store has any Brain Observatory group to draw (a generic-profile store has none)."""
    return any(name in dt.children for name in BRAIN_OBSERVATORY_GROUPS)


def frame_times(dt: xr.DataTree) -> np.ndarray | None:
    """``/ophys/time`` (the 2p frame clock that stimulus frame indices refer to), or None."""
    if "ophys" not in dt.children or "time" not in dt["ophys"].coords:
        return None
    return np.asarray(dt["ophys"]["time"].values, dtype=np.float64)


def dff(dt: xr.DataTree) -> tuple[xr.DataArray, str, np.ndarray] | None:
    """dF/F as ``(array (roi, samples), its sample dimension, the sample times)``, wherever the layout put it.

    ``/ophys/dff`` on the shared ``/ophys/time``, or ``/ophys/dff/dff`` on its own ``dff_time`` (a dF/F
    one column longer or shorter than its timestamps: sample ``i`` is drawn at ``dff_time[i]``).
    """
    if "ophys" not in dt.children:
        return None
    node = dt["ophys"]
    if "dff" in node.data_vars:
        array = node["dff"]
    elif "dff" in node.children and "dff" in node["dff"].data_vars:
        node = node["dff"]
        array = node["dff"]
    else:
        return None
    dims = [d for d in array.dims if d != "roi"]
    if array.ndim != 2 or "roi" not in array.dims or len(dims) != 1:
        return None
    dim = dims[0]
    for name in (dim, "dff_time", "time"):
        if name in node.coords and node[name].ndim == 1:
            return array, dim, np.asarray(node[name].values, dtype=np.float64)
    return None


def series(dt: xr.DataTree, group: str, name: str) -> tuple[xr.DataArray, np.ndarray] | None:
    """A 1-D behaviour series ``group/name`` on its own ``time``, or None when absent."""
    try:
        node = dt[group]
    except KeyError:
        return None
    if not isinstance(node, xr.DataTree) or name not in node.data_vars:
        return None
    array = node[name]
    if array.dims != ("time",) or "time" not in node.coords or array.sizes["time"] == 0:
        return None
    return array, np.asarray(node["time"].values, dtype=np.float64)


def _frame_period(times: np.ndarray | None) -> float:
    if times is None or len(times) < 2:
        return DEFAULT_FRAME_PERIOD
    period = float(np.median(np.diff(times)))
    return period if np.isfinite(period) and period > 0 else DEFAULT_FRAME_PERIOD


def _at_frames(times: np.ndarray | None, frames: np.ndarray) -> np.ndarray | None:
    if times is None or len(times) == 0:
        return None
    return times[np.clip(frames.astype(np.int64), 0, len(times) - 1)]


def _presentation_times(table: xr.Dataset, times: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Start and end (s) of each presentation: ``time`` / ``end_time``, else frame indices on ``/ophys/time``."""
    starts = None
    if "time" in table.coords and table["time"].dims == ("presentation",):
        starts = np.asarray(table["time"].values, dtype=np.float64)
    elif "start" in table.data_vars:
        starts = _at_frames(times, np.asarray(table["start"].values))
    if starts is None:
        return None
    ends = None
    if "end_time" in table.data_vars:
        ends = np.asarray(table["end_time"].values, dtype=np.float64)
    elif "end" in table.data_vars:
        ends = _at_frames(times, np.asarray(table["end"].values))
    if ends is None or ends.shape != starts.shape:
        ends = starts.copy()
    return starts, np.maximum(ends, starts)


def stimulus_epochs(dt: xr.DataTree) -> list[Epoch]:
    """Contiguous epochs of every ``/stimulus/<name>`` table, sorted by start time.

    Presentations are sorted by start; a new epoch begins where the gap from one presentation's end to
    the next one's start exceeds AllenSDK's threshold for the session type (:data:`EPOCH_THRESHOLDS`,
    in 2p frames, converted to seconds with the median frame period of ``/ophys/time``).  A presentation
    lasts at least one frame period (a table without end times still shows its epochs).
    """
    if "stimulus" not in dt.children:
        return []
    times = frame_times(dt)
    period = _frame_period(times)
    gap = period * EPOCH_THRESHOLDS.get(str(dt.attrs.get("session_type")), DEFAULT_EPOCH_GAP_FRAMES)
    epochs: list[Epoch] = []
    for name in sorted(dt["stimulus"].children):
        table = dt["stimulus"][name].to_dataset(inherit=False)
        if "presentation" not in table.dims or table.sizes["presentation"] == 0:
            continue
        found = _presentation_times(table, times)
        if found is None:
            continue
        starts, ends = found
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        keep = np.isfinite(starts) & np.isfinite(ends)
        starts, ends = starts[keep], ends[keep]
        if len(starts) == 0:
            continue
        stops = np.maximum.accumulate(np.maximum(ends, starts + period))  # a presentation lasts >= 1 frame
        cuts = np.flatnonzero(starts[1:] - stops[:-1] > gap) + 1
        for first, last in zip([0, *cuts.tolist()], [*(cuts - 1).tolist(), len(starts) - 1], strict=True):
            epochs.append(Epoch(name, float(starts[first]), float(stops[last]), last - first + 1))
    return sorted(epochs, key=lambda e: (e.start, e.stimulus))


def outlines(dt: xr.DataTree, *, max_bytes: int = MAX_BYTES) -> list[Outline] | None:
    """Every ROI of ``/rois/mask`` (roi, y, x) as a cropped boolean mask, read a few ROIs at a time; None if absent."""
    if "rois" not in dt.children or "mask" not in dt["rois"].data_vars:
        return None
    mask = dt["rois"]["mask"]
    if mask.ndim != 3 or mask.dims[0] != "roi":
        return None
    n_roi, ny, nx = mask.shape
    step = max(1, max_bytes // max(1, ny * nx * mask.dtype.itemsize))
    chunk = (mask.encoding.get("chunks") or (0,))[0]
    if 0 < chunk <= step:
        step -= step % chunk  # whole chunks: none is decoded twice
    found: list[Outline] = []
    for first in range(0, n_roi, step):
        block = np.asarray(mask.isel(roi=slice(first, first + step)).values)
        for offset, image in enumerate(block):
            inside = np.isfinite(image) & (image != 0) if image.dtype.kind == "f" else image != 0
            rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
            if len(rows) == 0:
                continue
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            crop = np.zeros((y1 - y0 + 2, x1 - x0 + 2), dtype=bool)
            crop[1:-1, 1:-1] = inside[y0:y1, x0:x1]
            found.append(Outline(first + offset, int(y0) - 1, int(x0) - 1, crop))
    return found


def max_projection(dt: xr.DataTree) -> np.ndarray | None:
    """``/rois/max_projection`` (y, x), or None."""
    if "rois" not in dt.children or "max_projection" not in dt["rois"].data_vars:
        return None
    image = dt["rois"]["max_projection"]
    return np.asarray(image.values) if image.ndim == 2 else None


def mask_shape(dt: xr.DataTree) -> tuple[int, int] | None:
    """(y, x) size of the ROI masks, or None."""
    if "rois" not in dt.children or "mask" not in dt["rois"].data_vars or dt["rois"]["mask"].ndim != 3:
        return None
    _, ny, nx = dt["rois"]["mask"].shape
    return int(ny), int(nx)


def template_frames(dt: xr.DataTree) -> dict[str, np.ndarray]:
    """Frame 0 of each ``/stimulus/<name>/template/template`` (frame, y, x), by stimulus name."""
    if "stimulus" not in dt.children:
        return {}
    frames: dict[str, np.ndarray] = {}
    for name in sorted(dt["stimulus"].children):
        node = dt["stimulus"][name]
        if "template" not in node.children or "template" not in node["template"].data_vars:
            continue
        stack = node["template"]["template"]
        if stack.ndim == 3 and stack.shape[0] > 0:
            frames[name] = np.asarray(stack.isel({stack.dims[0]: 0}).values)
    return frames


def robust_range(values: np.ndarray, low: float = 1.0, high: float = 99.0) -> tuple[float, float]:
    """Percentiles ``low`` and ``high`` of the finite values (a colour scale that ignores outliers).

    >>> robust_range(np.array([0.0, 1.0, 2.0, np.nan, 100.0]), 0, 50)
    (0.0, 1.5)
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [low, high]))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi
