"""AllenSDK agreement: AllenSDK's reader on every generator variant agrees with the converted stores.

AllenSDK's ``BrainObservatoryNwbDataSet`` reads the real files for thousands of users.  Here it reads
every synthetic variant (in its own environment, ``tests/allensdk/env.py``; every getter, one subprocess,
``tests/allensdk/dump_getters.py``) and each result is compared with the store converted from the same
file.  Values AllenSDK returns unchanged must be identical (same dtype, same bits); where AllenSDK
transforms what it reads, the comparison names the transformation, and every such name is defined once,
in :data:`TRANSFORMATIONS`.  Anything else is a failure.

A getter exception is a failure unless AllenSDK is reporting data the file does not have (eye tracking,
demixed traces), and the store lacks it too.

Run alone: ``python -m pytest tests/test_allensdk_agreement.py`` (see docs/allensdk.md for timings).
Without an AllenSDK environment the tests skip locally and fail in CI (``CI=true``).
"""

from __future__ import annotations

import datetime as dt_
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import nwb1zarr
from nwb1zarr import allensdk as sdk
from nwb1zarr.testing import VARIANTS

pd = pytest.importorskip("pandas")


def _load_env_module() -> Any:
    path = Path(__file__).resolve().parent / "allensdk" / "env.py"
    spec = importlib.util.spec_from_file_location("nwb1zarr_tests_allensdk_env", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_env = _load_env_module()

DUMP = Path(__file__).resolve().parent / "allensdk" / "dump_getters.py"
DUMP_TIMEOUT_S = 900

TRANSFORMATIONS: dict[str, str] = {
    "session_start_time": "AllenSDK returns a datetime (dateutil parse of the file's ctime string); the store "
                          "holds ISO 8601: datetime.fromisoformat(dt.attrs['session_start_time'])",
    "decoded string": "AllenSDK returns the file's fixed-length bytes (roi_ids S9); the store holds them "
                      "decoded (UTF-8 str)",
    "uint8 mask": "AllenSDK's get_roi_mask_array casts img_mask to uint8: dt['rois/mask'].astype('uint8')",
    "padded running speed": "AllenSDK NaN-pads running speed onto the fluorescence timestamps (exact float "
                            "match): dt['behavior/running_speed/running_speed'].reindex(time=dt['ophys/time']) "
                            "(float64 in AllenSDK when it appends trailing NaNs with np.append; same values)",
    "corrected fluorescence": "computed by AllenSDK: (demixed if pipeline >= 2.0 else fluorescence) - "
                              "neuropil * neuropil_r; nwb1zarr.allensdk.corrected_fluorescence",
    "sorted stimulus table": "AllenSDK sorts presentations by (start, end) keeping file positions as the "
                             "index; the store keeps presentation order: nwb1zarr.allensdk.stimulus_table",
    "movie repeat": "AllenSDK counts repeat on the sorted rows (np.repeat(range(n // k), k)); the store's "
                    "derived `repeat` (movie_repeat) counts in presentation order; equal when sorting keeps "
                    "the order",
    "epoch table": "computed by AllenSDK from the sorted tables and session thresholds: "
                   "nwb1zarr.allensdk.epoch_table",
    "master table": "AllenSDK concatenates every table cut to its epochs, columns sorted, missing = NaN "
                    "(ints become float): nwb1zarr.allensdk.stimulus_table(dt, 'master')",
    "motion correction frame": "AllenSDK returns a DataFrame with one column per feature_description plus "
                               "'timestamp'; the store has one variable per feature on its own `time`",
    "missing data": "AllenSDK raises (KeyError, NoEyeTrackingException) for a group the file does not have; "
                    "the store has no such variable",
}


# ---- the AllenSDK side ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def allensdk_python() -> Path:
    """Python of the cached AllenSDK environment (created on first use; ~40 s)."""
    try:
        return _env.ensure_env()
    except _env.AllenSDKEnvError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"AllenSDK environment could not be created (CI): {exc}", pytrace=False)
        pytest.skip(f"AllenSDK environment could not be created: {exc}")


@dataclass
class Case:
    """One variant: AllenSDK's results (json + npz) and the converted store."""

    name: str
    record: dict[str, Any]
    arrays: Any
    dt: xr.DataTree
    _cache: dict[str, Any] = field(default_factory=dict)

    def raw(self, getter: str) -> Any:
        assert getter in self.record["getters"], f"{self.name}: {getter} was not run"
        return self.record["getters"][getter]

    def error(self, getter: str) -> str | None:
        value = self.raw(getter)
        return value["error"] if isinstance(value, dict) and "error" in value else None

    def get(self, getter: str) -> Any:
        value = self.raw(getter)
        if isinstance(value, dict) and "error" in value:
            pytest.fail(f"{self.name}: AllenSDK {getter} raised {value['error']}: {value['message']}\n"
                        f"{value.get('traceback', '')}", pytrace=False)
        return self._decode(value)

    def _decode(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "array" in value:
                return self.arrays[value["array"]]
            if "dataframe" in value:
                frame = value["dataframe"]
                data = {c: self._decode(frame["data"][c]) for c in frame["columns"]}
                return pd.DataFrame(data, columns=frame["columns"], index=self._decode(frame["index"]))
            if "tuple" in value:
                return tuple(self._decode(v) for v in value["tuple"])
            if "datetime" in value:
                return dt_.datetime.fromisoformat(value["datetime"])
            if "bytes" in value:
                return value["bytes"].encode()
            return {k: self._decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._decode(v) for v in value]
        return value


@pytest.fixture(scope="session")
def agreement_dir(variant_file, allensdk_python, tmp_path_factory) -> Path:
    """Every variant written, converted, and read by AllenSDK (one subprocess, run while converting)."""
    out = tmp_path_factory.mktemp("allensdk_agreement")
    sources = {name: Path(variant_file(name)) for name in VARIANTS}
    cmd = [str(allensdk_python), str(DUMP), str(out / "allensdk"), *(f"{n}={p}" for n, p in sources.items())]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            for name, src in sources.items():
                nwb1zarr.convert(src, out / f"{name}.zarr")
            stdout, stderr = proc.communicate(timeout=DUMP_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        pytest.fail(f"dump_getters.py failed (exit {proc.returncode}):\n{stdout}\n{stderr}", pytrace=False)
    return out


@pytest.fixture(scope="session")
def cases(agreement_dir) -> dict[str, Case]:
    return {}


@pytest.fixture(params=sorted(VARIANTS))
def case(request, agreement_dir, cases) -> Case:
    name = request.param
    if name not in cases:
        record = json.loads((agreement_dir / "allensdk" / f"{name}.json").read_text())
        arrays = np.load(agreement_dir / "allensdk" / f"{name}.npz")
        dt = xr.open_datatree(agreement_dir / f"{name}.zarr", engine="zarr")
        cases[name] = Case(name, record, arrays, dt)
    return cases[name]


# ---- comparisons --------------------------------------------------------------------------------


def _plain_str(a: np.ndarray) -> np.ndarray:
    """numpy 2 StringDType -> fixed-width str (what AllenSDK's decoded strings are)."""
    return np.array(a.tolist(), dtype=str).reshape(a.shape) if a.dtype.kind == "T" else a


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"u{a.itemsize}") if a.dtype.kind in "fc" else a


def assert_identical(allen: Any, store: Any, what: str) -> None:
    """Same dtype, shape and bits (AllenSDK returns the stored values unchanged)."""
    allen, store = np.asarray(allen), np.asarray(store)
    store = _plain_str(store)
    assert allen.dtype == store.dtype, f"{what}: dtype AllenSDK {allen.dtype} != store {store.dtype}"
    assert allen.shape == store.shape, f"{what}: shape AllenSDK {allen.shape} != store {store.shape}"
    if not np.array_equal(_bits(allen), _bits(store)):
        bad = np.flatnonzero(_bits(allen).ravel() != _bits(store).ravel())
        pytest.fail(f"{what}: {len(bad)} values differ, first at flat index {bad[:5].tolist()}", pytrace=False)


def assert_explained(allen: Any, store: Any, what: str, how: str, *, cast: bool = False) -> None:
    """Equal after a named transformation: NaN-aware, bitwise on the non-NaN values.

    ``cast``: the dtypes may differ by the transformation (values compared in AllenSDK's dtype).
    """
    assert how in TRANSFORMATIONS, f"{what}: unexplained difference ({how!r} is not a documented transformation)"
    allen, store = np.asarray(allen), np.asarray(store)
    store = _plain_str(store)
    assert allen.shape == store.shape, f"{what} [{how}]: shape AllenSDK {allen.shape} != store {store.shape}"
    if cast:
        store = store.astype(allen.dtype)
    assert allen.dtype == store.dtype, f"{what} [{how}]: dtype AllenSDK {allen.dtype} != store {store.dtype}"
    if allen.dtype.kind == "f":
        nan_a, nan_s = np.isnan(allen), np.isnan(store)
        assert np.array_equal(nan_a, nan_s), f"{what} [{how}]: NaN positions differ"
        allen, store = allen[~nan_a], store[~nan_s]
    assert np.array_equal(_bits(allen), _bits(store)), f"{what} [{how}]: values differ"


def assert_tables(allen: pd.DataFrame, store: pd.DataFrame, what: str, how: str, *, cast: bool = False) -> None:
    """Same columns (order), index and rows; values NaN-aware (see :func:`assert_explained`)."""
    assert list(allen.columns) == list(store.columns), f"{what}: columns {list(allen.columns)} != {list(store.columns)}"
    assert len(allen) == len(store), f"{what}: {len(allen)} rows in AllenSDK, {len(store)} from the store"
    assert_explained(allen.index.to_numpy(), store.index.to_numpy(), f"{what} index", how)
    for column in allen.columns:
        a, s = allen[column].to_numpy(), store[column].to_numpy()
        if a.dtype.kind in "OUT" or s.dtype.kind in "OUT":
            a, s = _plain_str(a).astype(str), _plain_str(s).astype(str)
        assert_explained(a, s, f"{what}[{column}]", how, cast=cast)


# ---- the tests ----------------------------------------------------------------------------------


def _has(dt: xr.DataTree, path: str) -> bool:
    try:
        dt[path]
    except KeyError:
        return False
    return True


def _expected_errors(case: Case) -> dict[str, str]:
    """Getters AllenSDK should refuse for this store's content: name -> exception type."""
    dt = case.dt
    expected = {}
    has_demixed = _has(dt, "ophys/demixed")
    if not has_demixed:
        expected["get_demixed_traces"] = "KeyError"
        if sdk._pipeline_at_least_2(dt):
            expected["get_corrected_fluorescence_traces"] = "KeyError"
    for getter, path in [("get_pupil_location(as_spherical=True)", "behavior/eye_tracking/pupil_location_spherical"),
                         ("get_pupil_location(as_spherical=False)", "behavior/eye_tracking/pupil_location"),
                         ("get_pupil_size", "behavior/eye_tracking/pupil_size")]:
        if not _has(dt, path):
            expected[getter] = "NoEyeTrackingException"
    return expected


def test_allensdk_reads_variant(case: Case) -> None:
    """Every getter works, except for data the file (and so the store) does not have."""
    assert "open_error" not in case.record, case.record.get("open_error")
    assert case.record["versions"]["allensdk"] == "2.16.2"
    expected = _expected_errors(case)
    for getter, value in case.record["getters"].items():
        error = value.get("error") if isinstance(value, dict) else None
        if getter in expected:
            assert error == expected[getter], (
                f"{getter}: the store has no such data ({TRANSFORMATIONS['missing data']}), so AllenSDK should "
                f"raise {expected[getter]}, got {error or 'a value'}")
        elif error is not None:
            pytest.fail(f"AllenSDK {getter} raised {error}: {value['message']}\n{value.get('traceback', '')}\n"
                        "(a generator variant AllenSDK cannot read means the generator is wrong)", pytrace=False)


def test_metadata(case: Case) -> None:
    meta = case.get("get_metadata")
    assert set(meta) == set(sdk.METADATA_KEYS), set(meta) ^ set(sdk.METADATA_KEYS)
    for key, value in meta.items():
        assert key in case.dt.attrs, f"root attrs lack {key}"
        stored = case.dt.attrs[key]
        if key == "session_start_time":
            assert isinstance(stored, str), TRANSFORMATIONS["session_start_time"]
            assert dt_.datetime.fromisoformat(stored) == value, (key, stored, value)
            continue
        assert type(stored) is type(value) and stored == value, f"{key}: store {stored!r} != AllenSDK {value!r}"
    assert sdk.metadata(case.dt) == meta
    assert case.get("get_session_type") == case.dt.attrs["session_type"]


def test_ids(case: Case) -> None:
    dt = case.dt
    assert_identical(case.get("get_cell_specimen_ids"), dt["ophys/cell_specimen_id"], "cell_specimen_ids")
    assert_identical(case.get("get_cell_specimen_ids"), dt["rois/cell_specimen_id"], "rois cell_specimen_ids")
    roi_ids = case.get("get_roi_ids")
    assert roi_ids.dtype.kind == "S", roi_ids.dtype
    for where in ("ophys/roi_id", "rois/roi_id"):
        assert_explained(np.char.decode(roi_ids, "utf-8"), dt[where].values, where, "decoded string")


def test_traces(case: Case) -> None:
    dt = case.dt
    time = dt["ophys/time"].values
    assert_identical(case.get("get_fluorescence_timestamps"), time, "fluorescence timestamps")
    for getter, name in [("get_fluorescence_traces", "fluorescence"), ("get_neuropil_traces", "neuropil"),
                         ("get_demixed_traces", "demixed"), ("get_dff_traces", "dff")]:
        if case.error(getter) == "KeyError" and getter in _expected_errors(case):
            with pytest.raises(KeyError):
                sdk.trace(dt, name)
            continue
        timestamps, values = case.get(getter)
        var = sdk.trace(dt, name)
        assert_identical(values, var.values, f"{getter} values")
        own_time = f"{name}_time"
        store_time = dt[f"ophys/{name}/{own_time}"].values if own_time in var.coords else time
        assert_identical(timestamps, store_time, f"{getter} timestamps")
    assert_identical(case.get("get_neuropil_r"), dt["ophys/neuropil_r"].values, "neuropil r")


def test_corrected_fluorescence(case: Case) -> None:
    if "get_corrected_fluorescence_traces" in _expected_errors(case):
        with pytest.raises(KeyError):
            sdk.corrected_fluorescence(case.dt)
        return
    timestamps, values = case.get("get_corrected_fluorescence_traces")
    corrected = sdk.corrected_fluorescence(case.dt)
    assert_explained(values, corrected.values, "corrected fluorescence", "corrected fluorescence")
    assert_identical(timestamps, case.dt["ophys/time"].values, "corrected fluorescence timestamps")


def test_masks_and_max_projection(case: Case) -> None:
    masks = case.get("get_roi_mask_array")
    assert masks.dtype == np.uint8
    assert_explained(masks, sdk.roi_mask_array(case.dt).values, "roi masks", "uint8 mask")
    assert_explained(masks, case.dt["rois/mask"].values, "roi masks", "uint8 mask", cast=True)
    assert_identical(case.get("get_max_projection"), case.dt["rois/max_projection"].values, "max projection")


def test_running_speed(case: Case) -> None:
    speed, timestamps = case.get("get_running_speed")
    padded = sdk.running_speed_padded(case.dt)
    one_liner = case.dt["behavior/running_speed/running_speed"].reindex(time=case.dt["ophys/time"])
    assert padded.identical(one_liner)
    assert_explained(speed, padded.values, "running speed", "padded running speed", cast=True)
    assert_identical(timestamps, padded["time"].values, "running speed timestamps")
    raw = case.dt["behavior/running_speed/running_speed"].values  # AllenSDK's non-padded part is the raw series
    assert_identical(speed[~np.isnan(speed)].astype(raw.dtype), raw[~np.isnan(raw)], "running speed (raw part)")


def test_motion_correction(case: Case) -> None:
    frame = case.get("get_motion_correction")
    node = case.dt["motion_correction"]
    features = [str(c) for c in frame.columns if c != "timestamp"]
    assert list(frame.columns) == [*features, "timestamp"], TRANSFORMATIONS["motion correction frame"]
    assert features == sdk._feature_columns(node.to_dataset(inherit=False)), "feature order"
    assert sorted(node.data_vars) == sorted(features)
    for feature in features:
        assert_identical(frame[feature].to_numpy(), node[feature].values, f"motion correction {feature}")
    assert_identical(frame["timestamp"].to_numpy(), node["time"].values, "motion correction timestamps")


def test_pupil(case: Case) -> None:
    expected = _expected_errors(case)
    for getter, var in [("get_pupil_location(as_spherical=True)", "pupil_location_spherical"),
                        ("get_pupil_location(as_spherical=False)", "pupil_location"),
                        ("get_pupil_size", "pupil_size")]:
        if getter in expected:
            continue  # checked in test_allensdk_reads_variant
        timestamps, values = case.get(getter)
        assert_identical(values, case.dt[f"behavior/eye_tracking/{var}"].values, getter)
        assert_identical(timestamps, case.dt["behavior/eye_tracking/time"].values, f"{getter} timestamps")


def test_stimulus_tables(case: Case) -> None:
    stimuli = case.get("list_stimuli")
    assert stimuli == sdk.list_stimuli(case.dt)
    for name in stimuli:
        allen = case.get(f"get_stimulus_table({name})")
        mine = sdk.stimulus_table(case.dt, name)
        assert_tables(allen, mine, f"{name} table", "sorted stimulus table")
        # the store itself, in presentation order: AllenSDK's rows put back at their file positions
        node = case.dt[f"stimulus/{name}"]
        back = allen.sort_index()
        assert back.index.tolist() == list(range(node.sizes["presentation"])), f"{name}: rows lost or added"
        for column in allen.columns:
            if column == "repeat":
                assert_explained(back[column].to_numpy(), node["repeat"].values, f"{name} repeat", "movie repeat")
            else:
                assert_identical(back[column].to_numpy(), node[column].values, f"{name}[{column}] (store order)")


def test_master_table(case: Case) -> None:
    allen = case.get("get_stimulus_table(master)")
    mine = sdk.stimulus_table(case.dt, "master")
    assert_tables(allen, mine, "master table", "master table", cast=True)


def test_epoch_table(case: Case) -> None:
    allen = case.get("get_stimulus_epoch_table")
    assert_tables(allen, sdk.epoch_table(case.dt), "epoch table", "epoch table")


def test_templates(case: Case) -> None:
    names = case.get("templates")
    with_template = sorted(n for n in case.dt["stimulus"].children if "template" in case.dt["stimulus"][n].children)
    assert names == with_template
    for name in names:
        assert_identical(case.get(f"get_stimulus_template({name})"),
                         case.dt[f"stimulus/{name}/template/template"].values, f"{name} template")


def test_every_getter_is_compared(agreement_dir) -> None:
    """The dump has no getter this module does not look at (a new getter needs a comparison)."""
    compared = {"get_metadata", "get_session_type", "get_cell_specimen_ids", "get_roi_ids",
                "get_fluorescence_timestamps", "get_fluorescence_traces", "get_dff_traces", "get_neuropil_traces",
                "get_neuropil_r", "get_demixed_traces", "get_corrected_fluorescence_traces", "get_roi_mask_array",
                "get_max_projection", "get_running_speed", "get_motion_correction",
                "get_pupil_location(as_spherical=True)", "get_pupil_location(as_spherical=False)",
                "get_pupil_size", "list_stimuli", "get_stimulus_epoch_table", "templates"}
    for path in (agreement_dir / "allensdk").glob("*.json"):
        getters = json.loads(path.read_text())["getters"]
        rest = {g for g in getters if not g.startswith(("get_stimulus_table(", "get_stimulus_template("))}
        assert rest == compared, (path.stem, rest ^ compared)
