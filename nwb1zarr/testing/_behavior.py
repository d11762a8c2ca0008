"""Behaviour: BehavioralTimeSeries (running speed) and, when present, EyeTracking / PupilTracking."""

from __future__ import annotations

import h5py
import numpy as np

from . import _nwb, _signals
from ._metadata import Identity
from ._spec import SessionSpec
from ._text import HELP_INDEX, HELP_SPATIAL, HELP_TS, PIPELINE


def sub_slice(n: int, seed: int, stream: int) -> slice:
    """A contiguous slice of [0, n) starting after 0 and ending before n (like running speed)."""
    g = _signals.rng(seed, stream)
    margin = max(2, n // 1000)
    return slice(int(g.integers(1, margin)), n - int(g.integers(1, margin)))


def _index_series(parent: h5py.Group, name: str, target: str, ts: np.ndarray, *, description: bytes) -> None:
    """IndexSeries pointing at a sibling TimeSeries (``data@conversion`` is NaN, as in the real file)."""
    g = _nwb.timeseries(parent, name, ancestry=[b"TimeSeries", b"IndexSeries"], help=HELP_INDEX,
                        description=description)
    _nwb.data(g, np.arange(ts.size, dtype=np.int64), unit=b"frame", conversion=np.nan)
    _nwb.link_with_path(g, "indexed_timeseries", target, path=target.lstrip("/"))
    _nwb.timestamps(g, ts)


def write_running(module: h5py.Group, spec: SessionSpec, ts: np.ndarray) -> None:
    """running_speed (float32 cm/s, unit 'frame'; (Tr, 1) for pipeline 0.9) + running_speed_index."""
    bts = _nwb.interface(module, "BehavioralTimeSeries", source=b"Measured data")
    run_ts = ts[sub_slice(ts.size, spec.seed, 43)]
    g = _nwb.timeseries(bts, "running_speed", ancestry=[b"TimeSeries"], help=HELP_TS,
                        description=b"Velocity of the running wheel in context of 2p_image_series timeline")
    speed = _signals.running_speed(run_ts.size, spec.seed)
    _nwb.data(g, speed[:, None] if spec.pipeline_version == "0.9" else speed, unit=b"frame")
    _nwb.timestamps(g, run_ts)
    _index_series(bts, "running_speed_index", f"{PIPELINE}/BehavioralTimeSeries/running_speed", run_ts,
                  description=b"Indices of wheel_velocity frame in context of 2p_image_series timeline")


def _spatial_series(parent: h5py.Group, name: str, values: np.ndarray, ts: np.ndarray, *,
                    description: bytes, unit: bytes, features: list[bytes]) -> None:
    g = _nwb.timeseries(parent, name, ancestry=[b"TimeSeries", b"SpatialSeries"], help=HELP_SPATIAL,
                        description=description, missing_fields=[b"reference_frame"])
    _nwb.data(g, values, unit=unit)
    _nwb.custom(g, "features", np.array(features), pad=1)
    _nwb.timestamps(g, ts)


def write_eye_tracking(module: h5py.Group, spec: SessionSpec, ident: Identity, ts: np.ndarray) -> None:
    """EyeTracking (pupil_location[_spherical]) and PupilTracking (pupil_size[_index])."""
    eye_ts = ts[sub_slice(ts.size, spec.seed, 44)]
    values = _signals.pupil(eye_ts.size, spec.seed)
    source = f"{ident.storage_dir}/eye_tracking/{ident.experiment_id}_ellipse.h5".encode()
    eye = _nwb.interface(module, "EyeTracking", source=source)
    _spatial_series(eye, "pupil_location", values["location"], eye_ts, unit=b"cm", features=[b"x", b"y"],
                    description=b"Pupil location on the monitor, (0, 0) is the monitor center")
    _spatial_series(eye, "pupil_location_spherical", values["spherical"], eye_ts, unit=b"degrees",
                    features=[b"azimuth", b"altitude"],
                    description=b"Pupil location in spherical coordinates relative to the monitor center")
    pupil = _nwb.interface(module, "PupilTracking", source=source)
    g = _nwb.timeseries(pupil, "pupil_size", ancestry=[b"TimeSeries"], help=HELP_TS,
                        description=b"Pupil area in pixels in context of 2p_image_series timeline")
    _nwb.data(g, values["area"], unit=b"pixels")
    _nwb.timestamps(g, eye_ts)
    _index_series(pupil, "pupil_size_index", f"{PIPELINE}/PupilTracking/pupil_size", eye_ts,
                  description=b"Indices of pupil_size frame in context of 2p_image_series timeline")
