"""``/stimulus/presentation/<stim>_stimulus`` groups and ``/stimulus/templates/<stim>_image_stack``."""

from __future__ import annotations

from collections.abc import Callable

import h5py
import numpy as np

from . import _h5, _nwb, _signals
from ._schedule import STIMULI, Epoch, presentations, template_shape
from ._spec import SessionSpec
from ._text import HELP_FEATURES, HELP_INDEX, HELP_INTERVAL, HELP_TS, STIMULUS_COMMENTS, TEMPLATE_DESCRIPTION

MONITOR_SIZE_M = (0.5184, 0.324)  # ASUS PA248Q panel; used as template field_of_view (guess)
_STREAM = {name: 50 + i for i, name in enumerate(STIMULI)}
_HELP = {"IntervalSeries": HELP_INTERVAL, "AbstractFeatureSeries": HELP_FEATURES, "IndexSeries": HELP_INDEX}
_DG_TF = (1.0, 2.0, 4.0, 8.0, 15.0)
_SG_SF = (0.02, 0.04, 0.08, 0.16, 0.32)


def _conditions(rng: np.random.Generator, table: np.ndarray, n: int, n_blank: int) -> np.ndarray:
    """``n`` rows: ``n - n_blank`` conditions cycled from ``table`` then shuffled with the blank rows."""
    idx = np.resize(rng.permutation(len(table)), n - n_blank)
    rows = np.concatenate([table[idx], np.full((n_blank, table.shape[1]), np.nan)])
    return rows[rng.permutation(n)]


def grating_features(name: str, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Feature names and float32 (n, 3) values with NaN blank sweeps (DG: blank_sweep column 1.0)."""
    g = _signals.rng(seed, _STREAM[name])
    if name == "static_gratings":
        grid = np.array(np.meshgrid(np.arange(0, 180, 30.0), _SG_SF, [0.0, 0.25, 0.5, 0.75], indexing="ij"))
        rows = _conditions(g, grid.reshape(3, -1).T, n, max(1, round(n * 192 / 6000)))
        return ["orientation", "spatial_frequency", "phase"], rows.astype(np.float32)
    grid = np.array(np.meshgrid(_DG_TF, np.arange(0, 360, 45.0), indexing="ij")).reshape(2, -1).T
    rows = _conditions(g, grid, n, max(1, round(n * 30 / 628)))
    blank = np.isnan(rows[:, 0])
    rows = np.column_stack([rows, blank.astype(np.float64)])
    return ["temporal_frequency", "orientation", "blank_sweep"], rows.astype(np.float32)


def frame_indices(name: str, n: int, spec: SessionSpec) -> np.ndarray:
    """int64 template frame shown at each presentation (NS: -1 = blank; movies: whole repeats)."""
    frames = template_shape(name, spec.template_scale)[0]
    if name == "natural_scenes":
        values = np.resize(np.arange(-1, frames), n)
        return _signals.rng(spec.seed, _STREAM[name]).permutation(values).astype(np.int64)
    if STIMULI[name].kind == "movie":
        return np.tile(np.arange(frames), n // frames).astype(np.int64)
    return np.arange(n, dtype=np.int64)  # locally sparse noise: each template frame once, in order


def write_presentation(parent: h5py.Group, name: str, epochs: list[Epoch], ts: np.ndarray,
                       spec: SessionSpec) -> None:
    """One presentation group; timestamps are the trace timestamps at each start frame."""
    start, end = presentations(epochs, name)
    group_name = f"{name}_stimulus"
    series = STIMULI[name].series
    g = _nwb.timeseries(parent, group_name, ancestry=[b"TimeSeries", series.encode()], help=_HELP[series],
                        comments=STIMULUS_COMMENTS.encode(), description=group_name.encode(),
                        **({"missing_fields": [b"feature_units"]} if series == "AbstractFeatureSeries" else {}))
    if series == "IntervalSeries":
        events = np.ravel(np.column_stack([start, end]))
        _nwb.data(g, np.tile(np.array([1, -1], dtype=np.int8), start.size), unit=b"interval")
        _nwb.custom(g, "frame_duration", np.column_stack([events, events]).astype(np.int64))
        _nwb.timestamps(g, ts[events])
        return
    if series == "AbstractFeatureSeries":
        features, values = grating_features(name, start.size, spec.seed)
        _nwb.data(g, values, unit=b"see 'feature_units'")
        _h5.strings(g, "features", features, pad=1)
        _nwb.custom(g, "frame_duration", np.column_stack([start, end]).astype(np.float32))
    else:
        _nwb.data(g, frame_indices(name, start.size, spec), unit=b"frame")
        _nwb.custom(g, "frame_duration", np.column_stack([start, end]).astype(np.int64))
        target = f"/stimulus/templates/{name}_image_stack"
        _nwb.link_with_path(g, "indexed_timeseries", target, path=target)
    _nwb.timestamps(g, ts[start])


def _template_block(name: str, shape: tuple[int, int], seed: int, dtype: str
                    ) -> Callable[[int, int], np.ndarray]:
    stream = _STREAM[name]
    if name.startswith("locally_sparse_noise"):
        return lambda a, b: _signals.sparse_noise_frames(a, b, shape, seed=seed, stream=stream)
    drift = 3.0 if name == "natural_scenes" else 0.05
    return lambda a, b: _signals.smooth_frames(a, b, shape, seed=seed, stream=stream,
                                               drift=drift).astype(dtype)


def write_template(parent: h5py.Group, name: str, spec: SessionSpec) -> None:
    """``<name>_image_stack``: plain TimeSeries without time axis, data written block by block."""
    frames, height, width = template_shape(name, spec.template_scale)
    dtype = STIMULI[name].template_dtype
    g = _nwb.timeseries(parent, f"{name}_image_stack", ancestry=[b"TimeSeries"], help=HELP_TS,
                        comments=STIMULUS_COMMENTS.encode(),
                        description=TEMPLATE_DESCRIPTION[name].encode(), missing_fields=[b"num_samples"])
    _nwb.custom(g, "bits_per_pixel", np.int64(8))
    dset = _nwb.data(g, unit=b"frame", shape=(frames, height, width), dtype=dtype)
    _h5.fill_blocks(dset, _template_block(name, (height, width), spec.seed, dtype), axis=0)
    _nwb.custom(g, "dimension", np.array([width, height], dtype=np.int64))
    _nwb.custom(g, "field_of_view", np.array(MONITOR_SIZE_M, dtype=np.float32))
    _nwb.custom(g, "format", b"raw")


def write_stimuli(f: h5py.File, epochs: list[Epoch], ts: np.ndarray, spec: SessionSpec) -> None:
    """All presentation groups of the session and the templates of its indexed stimuli."""
    for name in sorted({e.stimulus for e in epochs}):
        write_presentation(f["stimulus/presentation"], name, epochs, ts, spec)
        if STIMULI[name].template is not None:
            write_template(f["stimulus/templates"], name, spec)
