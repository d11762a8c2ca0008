"""``write_session``: assemble one synthetic Brain Observatory NWB 1.0 file."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import h5py

from . import _h5
from ._behavior import write_eye_tracking, write_running
from ._metadata import Identity, write_general, write_top_level
from ._ophys import write_motion_correction, write_raw_series, write_segmentation, write_traces
from ._schedule import plan_epochs
from ._signals import frame_timestamps
from ._spec import SessionSpec
from ._stimulus import write_stimuli

_CHUNK_CACHE = 8 * 2**20  # per dataset: holds the partial chunks at block edges


def write_session(path: str | os.PathLike[str], spec: SessionSpec | None = None, **overrides: object) -> Path:
    """Write a synthetic ``three_session_*`` NWB 1.0 file and return its path.

    ``overrides`` replace fields of ``spec`` (default: :meth:`SessionSpec.tiny`).  The file is
    deterministic for a given spec: two runs give byte-identical files.

    Example:
        >>> from nwb1zarr.testing import VARIANTS, write_session
        >>> write_session(tmp_path / "b.nwb", VARIANTS["B"], seed=3)  # doctest: +SKIP
        PosixPath('.../b.nwb')
    """
    spec = replace(spec or SessionSpec.tiny(), **overrides)  # type: ignore[arg-type]
    epochs = plan_epochs(spec)  # fails early when n_frames is too small
    ident = Identity.from_seed(spec.seed)
    times = frame_timestamps(spec.n_frames + 1, spec.seed)
    ts = times[: spec.n_frames]
    movie_ts = times if spec.movie_extra_frame else ts
    path = Path(path)
    with h5py.File(path, "w", libver="earliest", rdcc_nbytes=_CHUNK_CACHE) as f:
        write_top_level(f, ident)
        write_general(f, ident, spec)
        write_raw_series(f, spec, ident, movie_ts)
        module = f.create_group("processing/brain_observatory_pipeline")
        write_running(module, spec, ts)
        write_traces(module, spec, ident, ts)
        write_segmentation(module, spec, ident)
        write_motion_correction(module, spec, ident, movie_ts)
        if spec.eye_tracking:
            write_eye_tracking(module, spec, ident, ts)
        _h5.set_attrs(module, {"interfaces": sorted(module), "neurodata_type": "Module"})
        write_stimuli(f, epochs, ts, spec)
    return path
