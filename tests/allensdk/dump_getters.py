"""Run every AllenSDK ``BrainObservatoryNwbDataSet`` getter on NWB files; write what they return as npz + json.

Runs under the AllenSDK environment (``tests/allensdk/env.py``), so it imports only what the pins give:
allensdk, numpy 1.23, pandas 1.5, h5py and the standard library.  All files are done in one process
(importing AllenSDK takes seconds)::

    .../allensdk-venv/bin/python tests/allensdk/dump_getters.py OUT_DIR NAME=FILE.nwb [NAME=FILE.nwb ...]

For each ``NAME`` it writes ``OUT_DIR/NAME.npz`` (every array) and ``OUT_DIR/NAME.json``::

    {"variant": NAME, "file": ..., "versions": {...},
     "getters": {"get_dff_traces": <value>, "get_stimulus_table(natural_scenes)": <value>, ...}}

where a ``<value>`` is JSON with these encodings:

- ndarray -> ``{"array": KEY, "dtype": "float32", "shape": [...]}`` (``KEY`` names the npz entry; object
  arrays of str/bytes are saved as fixed-width str and keep ``"dtype": "object"``);
- DataFrame -> ``{"dataframe": {"columns": [...], "index": <ndarray>, "data": {column: <ndarray>}}}``;
- tuple -> ``{"tuple": [...]}``; datetime -> ``{"datetime": ISO 8601}``; numpy scalars -> Python scalars;
- an exception -> ``{"error": type name, "message": str(exc)}`` (whether that is acceptable is for the
  tests to decide: e.g. ``NoEyeTrackingException`` is AllenSDK's answer for a file without eye tracking).

Exit status 0 when every file was opened (getter exceptions are data, not failures); 2 on bad usage.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import sys
import traceback
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd


class _Encoder:
    """Turns getter results into JSON + a dict of arrays for ``np.savez``."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray) -> dict:
        value = np.asarray(value)
        key = f"a{len(self.arrays):04d}"
        dtype = value.dtype.str if value.dtype.kind != "O" else "object"
        if value.dtype.kind == "O":
            items = [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.ravel().tolist()]
            if not all(isinstance(v, str) for v in items):
                raise TypeError(f"object array with non-string items: {items[:3]}")
            value = np.array(items, dtype=str).reshape(value.shape)
        self.arrays[key] = value
        return {"array": key, "dtype": dtype, "shape": list(value.shape)}

    def encode(self, value: object) -> object:
        if isinstance(value, pd.DataFrame):
            return {"dataframe": {"columns": [str(c) for c in value.columns],
                                  "index": self.array(value.index.to_numpy()),
                                  "data": {str(c): self.array(value[c].to_numpy()) for c in value.columns}}}
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v) for v in value]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self.encode(v) for k, v in value.items()}
        if isinstance(value, _dt.datetime):
            return {"datetime": value.isoformat()}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, bytes):
            return {"bytes": value.decode("utf-8")}
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise TypeError(f"cannot encode {type(value).__name__}")


def _calls(ds: object, path: Path) -> list[tuple[str, object]]:
    """(name, zero-argument callable) for every getter to run on this file."""
    calls: list[tuple[str, object]] = [
        ("get_metadata", ds.get_metadata),
        ("get_session_type", ds.get_session_type),
        ("get_cell_specimen_ids", ds.get_cell_specimen_ids),
        ("get_roi_ids", ds.get_roi_ids),
        ("get_fluorescence_timestamps", ds.get_fluorescence_timestamps),
        ("get_fluorescence_traces", ds.get_fluorescence_traces),
        ("get_dff_traces", ds.get_dff_traces),
        ("get_neuropil_traces", ds.get_neuropil_traces),
        ("get_neuropil_r", ds.get_neuropil_r),
        ("get_demixed_traces", ds.get_demixed_traces),
        ("get_corrected_fluorescence_traces", ds.get_corrected_fluorescence_traces),
        ("get_roi_mask_array", ds.get_roi_mask_array),
        ("get_max_projection", ds.get_max_projection),
        ("get_running_speed", ds.get_running_speed),
        ("get_motion_correction", ds.get_motion_correction),
        ("get_pupil_location(as_spherical=True)", lambda: ds.get_pupil_location(as_spherical=True)),
        ("get_pupil_location(as_spherical=False)", lambda: ds.get_pupil_location(as_spherical=False)),
        ("get_pupil_size", ds.get_pupil_size),
        ("list_stimuli", ds.list_stimuli),
        ("get_stimulus_epoch_table", ds.get_stimulus_epoch_table),
    ]
    try:
        stimuli = ds.list_stimuli()
    except Exception:  # recorded by the list_stimuli call above
        stimuli = []
    for name in [*stimuli, "master"]:
        calls.append((f"get_stimulus_table({name})", lambda name=name: ds.get_stimulus_table(name)))
    with h5py.File(path, "r") as f:
        templates = sorted(k.removesuffix("_image_stack") for k in f.get("stimulus/templates", {}))
    calls.append(("templates", lambda: templates))
    for name in templates:
        calls.append((f"get_stimulus_template({name})", lambda name=name: ds.get_stimulus_template(name)))
    return calls


def dump(name: str, path: Path, out_dir: Path) -> dict:
    """Run every getter on ``path``; write ``out_dir/name.npz`` and ``out_dir/name.json``; return the JSON."""
    from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet

    encoder = _Encoder()
    record: dict = {"variant": name, "file": str(path), "getters": {}, "versions": _versions()}
    try:
        ds = BrainObservatoryNwbDataSet(str(path))
    except Exception as exc:
        record["open_error"] = {"error": type(exc).__name__, "message": str(exc),
                                "traceback": traceback.format_exc()}
        calls = []
    else:
        calls = _calls(ds, path)
    for getter, call in calls:
        try:
            record["getters"][getter] = encoder.encode(call())
        except Exception as exc:
            record["getters"][getter] = {"error": type(exc).__name__, "message": str(exc),
                                         "traceback": traceback.format_exc(limit=-3)}
    np.savez(out_dir / f"{name}.npz", **encoder.arrays)
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=1))
    return record


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {n: md.version(n) for n in ("allensdk", "numpy", "pandas", "h5py")}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # pipeline 0.9 files lack general/generated_by, as real ones do
    for item in argv[1:]:
        name, path = item.split("=", 1)
        record = dump(name, Path(path), out_dir)
        errors = sorted(k for k, v in record["getters"].items() if isinstance(v, dict) and "error" in v)
        print(f"{name}: {len(record['getters'])} getters, exceptions from {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
