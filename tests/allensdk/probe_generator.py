"""Check that AllenSDK's BrainObservatoryNwbDataSet reads every synthetic VARIANT.

Run with the separate AllenSDK environment (see shared/docs/allensdk_reference_env.md), not the project venv:

    /work/.venv-allensdk/bin/python tests/allensdk/probe_generator.py [--only B C] [--full A]

Imports ``nwb1zarr.testing`` by path (it needs only h5py + numpy), without running ``nwb1zarr/__init__``,
whose converter dependencies are not in that environment.  Exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import traceback
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
_pkg = types.ModuleType("nwb1zarr")
_pkg.__path__ = [str(ROOT / "nwb1zarr")]
sys.modules.setdefault("nwb1zarr", _pkg)

from allensdk.brain_observatory import stimulus_info as si  # noqa: E402
from allensdk.brain_observatory.brain_observatory_exceptions import NoEyeTrackingException  # noqa: E402
from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet  # noqa: E402

from nwb1zarr.testing import VARIANTS, SessionSpec, write_session  # noqa: E402
from nwb1zarr.testing._schedule import EPOCH_ORDER  # noqa: E402

EPOCHS = {"three_session_A": 7, "three_session_B": 8, "three_session_C": 7, "three_session_C2": 10}
PIPE = "processing/brain_observatory_pipeline"


def check_session(path: Path, spec: SessionSpec) -> list[str]:
    """Run every getter; return the names of the checks that passed (raises on the first failure)."""
    passed: list[str] = []

    def check(name: str, fn: Callable[[], object]) -> None:
        fn()
        passed.append(name)

    ds = BrainObservatoryNwbDataSet(str(path))
    n, t = spec.n_rois, spec.n_frames
    with h5py.File(path, "r") as f:
        img_masks = np.array([f[f"{PIPE}/ImageSegmentation/imaging_plane_1/roi_{i:04d}/img_mask"][()]
                              for i in range(n)])
        movie_samples = f["acquisition/timeseries/2p_image_series/num_samples"][()]

    def metadata() -> None:
        meta = ds.get_metadata()
        assert meta["pipeline_version"] == spec.pipeline_version, meta
        assert meta["session_type"] == spec.session_type
        assert isinstance(meta["age_days"], int) and meta["device_name"].startswith("CAM2P"), meta
        assert meta["ophys_experiment_id"] > 99_999_999 and meta["imaging_depth_um"] > 0
        assert meta["cre_line"] and "microns" in meta["fov"], meta
        assert ds.get_session_type() == spec.session_type

    check("get_metadata", metadata)
    ids = ds.get_cell_specimen_ids()
    check("get_cell_specimen_ids", lambda: _expect(len(ids) == n and not np.all(np.diff(ids) > 0)))
    check("get_roi_ids", lambda: _expect(len(ds.get_roi_ids()) == n))
    ts, fl = ds.get_fluorescence_traces()
    check("get_fluorescence_traces", lambda: _expect(fl.shape == (n, t) and ts.shape == (t,)))
    check("get_fluorescence_traces(ids)",
          lambda: _expect(np.array_equal(ds.get_fluorescence_traces([ids[1]])[1][0], fl[1])))
    check("get_dff_traces", lambda: _expect(ds.get_dff_traces()[1].shape == (n, t + spec.dff_extra_columns)
                                            and np.array_equal(ds.get_dff_traces()[0], ts)))
    check("get_neuropil_traces", lambda: _expect(ds.get_neuropil_traces()[1].shape == (n, t)))
    check("get_neuropil_r", lambda: _expect(ds.get_neuropil_r().shape == (n,)))
    if spec.has_demixed or spec.pipeline_version == "0.9":
        if spec.has_demixed:
            check("get_demixed_traces", lambda: _expect(ds.get_demixed_traces()[1].shape == (n, t)))
        check("get_corrected_fluorescence_traces",
              lambda: _expect(ds.get_corrected_fluorescence_traces()[1].shape == (n, t)))
    else:
        check("get_demixed_traces raises KeyError", lambda: _raises(KeyError, ds.get_demixed_traces))
    masks = ds.get_roi_mask_array()
    check("get_roi_mask_array", lambda: _expect(np.array_equal(masks, img_masks.astype(np.uint8))))
    check("get_max_projection", lambda: _expect(ds.get_max_projection().shape == spec.fov))
    speed, speed_ts = ds.get_running_speed()
    check("get_running_speed", lambda: _expect(speed.shape == (t,) and np.array_equal(speed_ts, ts)
                                               and np.isnan(speed[0]) and np.isnan(speed[-1])))
    mc = ds.get_motion_correction()
    check("get_motion_correction", lambda: _expect(list(mc.columns) == ["x_motion", "y_motion", "timestamp"]
                                                   and len(mc) == movie_samples))
    if spec.eye_tracking:
        check("get_pupil_location", lambda: _expect(ds.get_pupil_location()[1].shape[1] == 2
                                                    and ds.get_pupil_location(as_spherical=False)[1].ndim == 2))
        check("get_pupil_size", lambda: _expect(np.isnan(ds.get_pupil_size()[1]).any()))
    else:
        check("get_pupil_location raises", lambda: _raises(NoEyeTrackingException, ds.get_pupil_location))
        check("get_pupil_size raises", lambda: _raises(NoEyeTrackingException, ds.get_pupil_size))
    stimuli = ds.list_stimuli()
    check("list_stimuli", lambda: _expect(sorted(stimuli) == sorted(si.SESSION_STIMULUS_MAP[spec.session_type])))
    for stim in stimuli:
        check(f"get_stimulus_table({stim})", lambda stim=stim: _stimulus_table(ds, stim, t))
    epochs = ds.get_stimulus_epoch_table()
    check("get_stimulus_epoch_table", lambda: _expect(len(epochs) == EPOCHS[spec.session_type]
                                                      and list(epochs.stimulus) == list(EPOCH_ORDER[spec.session_type])
                                                      and epochs.end.max() < t))
    master = ds.get_stimulus_table("master")
    n_rows = sum(len(ds.get_stimulus_table(s)) for s in stimuli)
    check("get_stimulus_table(master)", lambda: _expect(len(master) == n_rows))
    for stim in stimuli:
        if stim != "spontaneous" and "gratings" not in stim:
            check(f"get_stimulus_template({stim})", lambda stim=stim: _template(ds, stim))
        if stim.startswith("locally_sparse_noise"):
            check(f"get_locally_sparse_noise_stimulus_template({stim})",
                  lambda stim=stim: _expect(ds.get_locally_sparse_noise_stimulus_template(stim)[0].ndim == 3))
    frame = int(master.start.iloc[len(master) // 2])
    check("get_stimulus(frame)", lambda: _expect(ds.get_stimulus(frame)[0] is not None))
    return passed


def _expect(ok: bool) -> None:
    if not ok:
        raise AssertionError("unexpected value")


def _raises(exc: type[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except exc:
        return
    raise AssertionError(f"{exc.__name__} not raised")


def _stimulus_table(ds: BrainObservatoryNwbDataSet, stim: str, t: int) -> None:
    table = ds.get_stimulus_table(stim)
    assert len(table) > 0 and table.start.min() >= 0 and table.end.max() < t, stim
    if stim.startswith("natural_movie"):
        assert "repeat" in table.columns and len(table) % table.frame.nunique() == 0
        assert table.frame.nunique() == ds.get_stimulus_template(stim).shape[0]
    if stim == "static_gratings":
        assert list(table.columns[:3]) == ["orientation", "spatial_frequency", "phase"]
        assert table.orientation.isna().any()
    if stim == "drifting_gratings":
        assert list(table.columns[:3]) == ["temporal_frequency", "orientation", "blank_sweep"]
        assert (table.blank_sweep == 1).any()
    if stim == "natural_scenes":
        assert (table.frame == -1).any()


def _template(ds: BrainObservatoryNwbDataSet, stim: str) -> None:
    template = ds.get_stimulus_template(stim)
    table = ds.get_stimulus_table(stim)
    assert template.ndim == 3 and table.frame.max() < template.shape[0], stim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="variant names (default: all)")
    parser.add_argument("--full", nargs="*", default=[], metavar="LETTER",
                        help="also check full-scale sessions of these types, e.g. A B")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # pipeline 0.9 files lack general/generated_by, as real ones do
    jobs = [(k, v) for k, v in VARIANTS.items() if args.only is None or k in args.only]
    jobs += [(f"full_{x}", SessionSpec.full(session_type=f"three_session_{x}")) for x in args.full]
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in jobs:
            path = Path(tmp) / f"{name}.nwb"
            t0 = time.perf_counter()
            write_session(path, spec)
            written = time.perf_counter() - t0
            try:
                passed = check_session(path, spec)
                print(f"PASS {name}: {len(passed)} checks (written in {written:.1f} s)")
            except Exception:
                failures += 1
                print(f"FAIL {name}:\n{traceback.format_exc()}")
            path.unlink()
    print(f"{len(jobs) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
