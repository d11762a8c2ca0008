"""AllenSDK habits, reproduced from a converted store.

AllenSDK's ``BrainObservatoryNwbDataSet`` (2.16.2) reshapes what it reads: it NaN-pads running speed onto
the fluorescence clock, sorts stimulus tables, splits presentations into epochs, computes corrected
fluorescence and casts masks to uint8.  A store keeps the source values as they are; the helpers below
apply AllenSDK's transformations to a store so results can be compared with (and code ported from)
AllenSDK.  They are checked against AllenSDK itself on every generator variant by
``tests/test_allensdk_agreement.py`` (see ``docs/allensdk.md``).

The table helpers need pandas (``pip install pandas``); the array helpers need only xarray.

Example:
    >>> import xarray as xr
    >>> from nwb1zarr import allensdk
    >>> dt = xr.open_datatree("570014520.zarr", engine="zarr")            # doctest: +SKIP
    >>> allensdk.stimulus_table(dt, "natural_scenes").head()             # doctest: +SKIP
       frame  start  end
    0     81  16100  16107
    >>> allensdk.epoch_table(dt)                                          # doctest: +SKIP
    >>> speed = allensdk.running_speed_padded(dt)                         # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from . import store_attrs as sa

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EPOCH_THRESHOLDS",
    "METADATA_KEYS",
    "corrected_fluorescence",
    "epoch_table",
    "list_stimuli",
    "metadata",
    "roi_mask_array",
    "running_speed_padded",
    "stimulus_table",
    "trace",
]

METADATA_KEYS: tuple[str, ...] = (
    "sex", "targeted_structure", "ophys_experiment_id", "experiment_container_id", "excitation_lambda",
    "indicator", "fov", "genotype", "session_start_time", "session_type", "specimen_name", "cre_line",
    "imaging_depth_um", "age_days", "device", "device_name", "pipeline_version",
)
"""The keys of AllenSDK's ``get_metadata()``; the store keeps each as a root attribute of the same name."""

EPOCH_THRESHOLDS: dict[str, int] = {
    "three_session_A": 32 + 7,
    "three_session_B": 15,
    "three_session_C": 7,
    "three_session_C2": 7,
}
"""AllenSDK's ``get_stimulus_epoch_table`` gap thresholds (2p frames) by session type."""

_MAX_EPOCH_CUTS = 2
_COLUMN_INDEX = re.compile(r"column\(index=(\d+)\)")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is in the test extra
        raise ImportError("nwb1zarr.allensdk tables need pandas: pip install pandas") from exc
    return pandas


def metadata(dt: xr.DataTree) -> dict[str, Any]:
    """AllenSDK ``get_metadata()`` from the store's root attributes.

    The only transformation: ``session_start_time`` is stored as an ISO 8601 string and returned as a
    ``datetime`` (AllenSDK parses the file's ctime-style string with ``dateutil``).  Keys AllenSDK would
    not find in the file are absent here too.

    Example:
        >>> metadata(dt)["session_start_time"]                 # doctest: +SKIP
        datetime.datetime(2016, 8, 16, 11, 11, 55)
    """
    out = {k: dt.attrs[k] for k in METADATA_KEYS if k in dt.attrs}
    if isinstance(out.get("session_start_time"), str):
        out["session_start_time"] = _dt.datetime.fromisoformat(out["session_start_time"])
    return out


def trace(dt: xr.DataTree, name: str) -> xr.DataArray:
    """An ``/ophys`` trace variable wherever the layout put it.

    ``/ophys/<name>`` on the shared clock, or ``/ophys/<name>/<name>`` with its own ``<name>_time`` (or
    ``<name>_sample``) when its timestamps differ from ``/ophys/time`` or its length differs from them
    (dF/F one column longer or shorter).

    Example:
        >>> trace(dt, "dff").sizes                            # doctest: +SKIP
        Frozen({'roi': 6, 'dff_sample': 2401})
    """
    node = dt["ophys"]
    if name in node.data_vars:
        return node[name]
    if name in node.children:
        return node[f"{name}/{name}"]
    raise KeyError(f"no ophys trace {name!r} in this store")


def _pipeline_at_least_2(dt: xr.DataTree) -> bool:
    parts = tuple(int(p) for p in str(dt.attrs["pipeline_version"]).split(".") if p.isdigit())
    return parts >= (2, 0)


def corrected_fluorescence(dt: xr.DataTree) -> xr.DataArray:
    """AllenSDK ``get_corrected_fluorescence_traces()``: ``F - r * neuropil``, as AllenSDK computes it.

    ``F`` is the demixed traces for pipeline >= 2.0 (``KeyError`` when the file has none, as AllenSDK)
    and the raw fluorescence before.  Same float32 arithmetic as AllenSDK (``F - neuropil * r``).

    Example:
        >>> corrected = dt["ophys/demixed"] - dt["ophys/neuropil"] * dt["ophys/neuropil_r"]  # doctest: +SKIP
        >>> corrected_fluorescence(dt).equals(corrected)                                      # doctest: +SKIP
        True
    """
    base = trace(dt, "demixed" if _pipeline_at_least_2(dt) else "fluorescence")
    neuropil, r = trace(dt, "neuropil"), dt["ophys/neuropil_r"]
    if neuropil.dims != base.dims:
        raise ValueError(f"neuropil {neuropil.dims} and traces {base.dims} are not on the same clock")
    return (base - neuropil * r).rename("corrected_fluorescence")


def running_speed_padded(dt: xr.DataTree) -> xr.DataArray:
    """AllenSDK ``get_running_speed()``: the raw series NaN-padded onto the fluorescence clock.

    One line of xarray (the store keeps the raw series on its own ``time``)::

        dt["behavior/running_speed/running_speed"].reindex(time=dt["ophys/time"])

    AllenSDK aligns by exact float equality of timestamps, and so does ``reindex``.  AllenSDK's result is
    float64 when it appends trailing NaNs (``np.append``) and float32 otherwise; the values are the same.

    Example:
        >>> speed = running_speed_padded(dt)                    # doctest: +SKIP
        >>> speed.sizes == dt["ophys"].sizes                    # doctest: +SKIP
    """
    return dt["behavior/running_speed/running_speed"].reindex(time=dt["ophys/time"])


def roi_mask_array(dt: xr.DataTree) -> xr.DataArray:
    """AllenSDK ``get_roi_mask_array()``: ``dt["rois/mask"].astype("uint8")`` (AllenSDK's cast).

    Example:
        >>> roi_mask_array(dt).dtype                              # doctest: +SKIP
        dtype('uint8')
    """
    return dt["rois/mask"].astype("uint8")


def list_stimuli(dt: xr.DataTree) -> list[str]:
    """AllenSDK ``list_stimuli()``: stimulus names in the file's (alphabetical) order.

    Example:
        >>> list_stimuli(dt)                                      # doctest: +SKIP
        ['natural_movie_one', 'natural_scenes', 'spontaneous', 'static_gratings']
    """
    return sorted(dt["stimulus"].children)


def _feature_columns(ds: xr.Dataset) -> list[str]:
    """Grating feature variables in the source ``features`` order (from their ``column(index=K)`` transform)."""
    order = []
    for name, var in ds.data_vars.items():
        if sa.COLUMN in var.attrs:
            match = _COLUMN_INDEX.search(str(var.attrs.get(sa.TRANSFORM, "")))
            if match is None:
                raise ValueError(f"feature {name!r} has no column(index=K) transform")
            order.append((int(match.group(1)), str(name)))
    return [name for _, name in sorted(order)]


def stimulus_table(dt: xr.DataTree, name: str) -> pd.DataFrame:
    """AllenSDK ``get_stimulus_table(name)`` from ``/stimulus/<name>`` (or ``"master"``).

    The store keeps presentations in file order; AllenSDK sorts them by ``(start, end)`` (stable) and
    keeps the file position as the index.  Columns, as AllenSDK:

    - gratings: one column per feature in the file's ``features`` order, then ``start``, ``end``;
    - natural scenes and locally sparse noise: ``frame, start, end``;
    - natural movies: ``frame, start, end, repeat`` with ``repeat`` counted on the *sorted* rows
      (``np.repeat(range(n // k), k)``, ``k`` = number of distinct frames);
    - spontaneous: ``start, end`` (one row per interval);
    - ``"master"``: every stimulus, rows cut to its epochs (:func:`epoch_table`) and concatenated in
      :func:`list_stimuli` order, with a ``stimulus`` column; columns sorted by name; index reset.

    Example:
        >>> stimulus_table(dt, "static_gratings").columns.tolist()    # doctest: +SKIP
        ['orientation', 'spatial_frequency', 'phase', 'start', 'end']
    """
    pd = _pandas()
    if name == "master":
        return _master_table(dt)
    if name not in dt["stimulus"].children:
        raise KeyError(f"no stimulus {name!r} in this store (have {list_stimuli(dt)})")
    ds = dt["stimulus"][name].to_dataset(inherit=False)
    columns: dict[str, np.ndarray] = {}
    if "frame" in ds:
        columns["frame"] = ds["frame"].values
    else:
        for feature in _feature_columns(ds):
            columns[feature] = ds[feature].values
    columns["start"] = ds["start"].values.astype(np.int64)
    columns["end"] = ds["end"].values.astype(np.int64)
    table = pd.DataFrame(columns).sort_values(["start", "end"], kind="stable")
    if "repeat" in ds:
        frames = table["frame"].to_numpy()
        n_unique = len(np.unique(frames))
        if n_unique == 0 or len(frames) % n_unique:
            raise ValueError(f"{name}: {len(frames)} presentations are not whole repeats of {n_unique} frames")
        table["repeat"] = np.repeat(np.arange(len(frames) // n_unique, dtype=np.int64), n_unique)
    return table


def _epochs(table: pd.DataFrame, threshold: int) -> list[tuple[int, int]]:
    """AllenSDK ``get_epoch_mask_list``: cut where ``start[i+1] - end[i] > threshold``; at most 2 cuts."""
    starts, ends = table["start"].to_numpy(), table["end"].to_numpy()
    cuts = np.flatnonzero(starts[1:] - ends[:-1] > threshold) + 1
    if len(cuts) > _MAX_EPOCH_CUTS:
        raise ValueError(f"more than {_MAX_EPOCH_CUTS} epochs cut (AllenSDK raises EpochSeparationException)")
    firsts = [0, *cuts.tolist()]
    lasts = [*(cuts - 1).tolist(), len(table) - 1]
    return [(int(starts[a]), int(ends[b])) for a, b in zip(firsts, lasts, strict=True)]


def epoch_table(dt: xr.DataTree) -> pd.DataFrame:
    """AllenSDK ``get_stimulus_epoch_table()``: columns ``stimulus, start, end``, one row per epoch.

    For each stimulus (sorted table, :func:`stimulus_table`), rows are split into blocks wherever
    ``start[i+1] - end[i]`` exceeds the session's threshold (:data:`EPOCH_THRESHOLDS`: A 39, B 15, C/C2 7
    frames; more than two cuts is an error); a block spans its first row's ``start`` to its last row's
    ``end``.  Spontaneous intervals are treated like any other table.  Epochs of all stimuli are sorted by
    start (stable, stimuli in :func:`list_stimuli` order) and the index is reset.

    Example:
        >>> epoch_table(dt).stimulus.tolist()[:3]                 # doctest: +SKIP
        ['static_gratings', 'natural_scenes', 'spontaneous']
    """
    pd = _pandas()
    session_type = str(dt.attrs["session_type"])
    if session_type not in EPOCH_THRESHOLDS:
        raise NotImplementedError(f"threshold not set for session type {session_type!r}")
    threshold = EPOCH_THRESHOLDS[session_type]
    intervals: list[tuple[int, int]] = []
    owner: dict[tuple[int, int], str] = {}
    for name in list_stimuli(dt):
        for interval in _epochs(stimulus_table(dt, name), threshold):
            owner[interval] = name  # AllenSDK keys by interval too: identical intervals keep the last name
            intervals.append(interval)
    intervals.sort(key=lambda x: x[0])
    return pd.DataFrame({"stimulus": [owner[i] for i in intervals],
                         "start": np.array([i[0] for i in intervals], dtype=np.int64),
                         "end": np.array([i[1] for i in intervals], dtype=np.int64)})


def _master_table(dt: xr.DataTree) -> pd.DataFrame:
    pd = _pandas()
    epochs = epoch_table(dt)
    parts = []
    for name in list_stimuli(dt):
        table = stimulus_table(dt, name)
        for start, end in epochs.loc[epochs["stimulus"] == name, ["start", "end"]].itertuples(index=False):
            part = table[(start <= table["start"]) & (table["end"] <= end)].copy()
            part["stimulus"] = name
            parts.append(part)
    return pd.concat(parts, sort=True).reset_index(drop=True)
