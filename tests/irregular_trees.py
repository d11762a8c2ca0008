"""An independent writer of small Brain Observatory-shaped NWB 1.0 files, regular or deliberately irregular.

Written with plain h5py from ``../shared/docs/bo_nwb1_layout.md`` and the real file ``496908818s.nwb``; it
shares no code with ``nwb1zarr`` (nor with ``nwb1zarr.testing``), so it cannot inherit the converter's
assumptions. A :class:`TreeSpec` with default values describes a regular three_session_B-like session; every
other field value is one knob of irregularity. ``repr(spec)`` shows only the knobs that differ from the
defaults, so a failing example reads as its own minimal description.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np

Encoding = Literal["fixed", "vlen-ascii", "vlen-utf8"]
TimeStyle = Literal["regular", "nan", "inf", "reversed", "repeated"]

PIPE = "/processing/brain_observatory_pipeline"
SEG = f"{PIPE}/ImageSegmentation"
PLANE = f"{SEG}/imaging_plane_1"
PRESENTATION = "/stimulus/presentation"
SERIES = {  # short key -> TimeSeries group with data + timestamps
    "dff": f"{PIPE}/DfOverF/imaging_plane_1",
    "fluorescence": f"{PIPE}/Fluorescence/imaging_plane_1",
    "neuropil": f"{PIPE}/Fluorescence/imaging_plane_1_neuropil_response",
    "demixed": f"{PIPE}/Fluorescence/imaging_plane_1_demixed_signal",
    "running_speed": f"{PIPE}/BehavioralTimeSeries/running_speed",
    "motion": f"{PIPE}/MotionCorrection/2p_image_series/xy_translation",
}
TRACES = ("dff", "fluorescence", "neuropil", "demixed")
LABELS = ("roi_list", "cell_specimen_ids", "roi_ids", "rows")
HELP = {
    "TimeSeries": "General time series object",
    "RoiResponseSeries": "ROI responses over an imaging plane. Each row in data[] should correspond to the signal "
                         "from one ROI",
    "IndexSeries": "A sequence that is generated from an existing image stack. Frames can be presented in an "
                   "arbitrary order. The data[] field stores frame number in reference stack",
    "AbstractFeatureSeries": "Features of an applied stimulus. This is useful when storing the raw stimulus is "
                             "impractical",
    "IntervalSeries": "Stores the start and stop times for events",
    "ImageSeries": "Storage object for time-series 2-D image data",
    "TwoPhotonSeries": "Image stack recorded from 2-photon microscope",
}


@dataclass(frozen=True)
class StimulusSpec:
    """One ``/stimulus/presentation/<name>_stimulus`` group."""

    name: str
    kind: Literal["features", "index", "interval"]
    n: int = 6  # presentations (ignored for "interval": len(events))
    time_delta: int = 0  # len(timestamps) - n
    time_style: TimeStyle = "regular"
    features: tuple[str, ...] = ("orientation", "spatial_frequency", "phase")
    columns: int | None = None  # data columns ("features" only); None: len(features)
    features_encoding: Encoding = "fixed"
    frame_duration: Literal["real", "int", "float", "fractional"] = "real"  # real: float32 gratings, int64 others
    frame_duration_delta: int = 0  # rows of frame_duration - n
    events: tuple[int, ...] = (1, -1, 1, -1)  # the +1/-1 pattern of an IntervalSeries

    def __repr__(self) -> str:
        return _short_repr(self, ("name", "kind"))


@dataclass(frozen=True)
class RegularSpec:
    """A generic TimeSeries at ``/acquisition/timeseries/<name>`` timed by ``starting_time`` + ``@rate``."""

    n: int = 5
    starting_time: Literal["scalar", "array1"] = "scalar"
    rate: Literal["float", "int", "array1", "string", "missing"] = "float"

    @property
    def name(self) -> str:
        return f"regular_{self.starting_time}_{self.rate}_{self.n}"

    def __repr__(self) -> str:
        return _short_repr(self, ())


DEFAULT_STIMULI = (
    StimulusSpec("static_gratings", "features"),
    StimulusSpec("natural_scenes", "index"),
    StimulusSpec("natural_movie_one", "index"),
    StimulusSpec("spontaneous", "interval"),
)


@dataclass(frozen=True)
class TreeSpec:
    """A Brain Observatory session; the defaults are regular, every other value is an irregularity."""

    n_rois: int = 2
    n_frames: int = 12
    mask_side: int = 4
    n_samples: Mapping[str, int] = field(default_factory=dict)  # SERIES key -> samples (default n_frames; motion +1)
    time_delta: Mapping[str, int] = field(default_factory=dict)  # SERIES key -> len(timestamps) - samples
    time_style: Mapping[str, TimeStyle] = field(default_factory=dict)  # SERIES key -> style of its timestamps
    label_delta: Mapping[str, int] = field(default_factory=dict)  # LABELS key -> length - n_rois
    roi_names: tuple[str, ...] | None = None  # explicit roi_list (overrides label_delta["roi_list"])
    roi_list_encoding: Encoding = "fixed"
    orientation: Literal["spec", "transposed", "neither"] = "spec"
    motion_features: tuple[str, ...] = ("x_motion", "y_motion")  # feature_description (data has 2 columns)
    stimuli: tuple[StimulusSpec, ...] = DEFAULT_STIMULI
    regular: tuple[RegularSpec, ...] = ()  # generic TimeSeries timed by starting_time + rate (distinct forms)
    compound_at: str | None = None  # group holding a compound dataset `x` (field `y`) and a dataset `x.y`
    general_encoding: Encoding = "fixed"
    general_as_array: bool = False  # /general strings as 1-element arrays instead of scalars
    type_attrs: Literal["real", "fixed", "vlen"] = "real"  # encoding of neurodata_type / ancestry
    omit: frozenset[str] = frozenset()  # absolute paths deleted after writing
    zero_d: frozenset[str] = frozenset()  # dataset paths rewritten as 0-d (first value, attrs kept), before omit

    def __repr__(self) -> str:
        """Only the knobs that differ from a regular tree; stimuli only where they differ from DEFAULT_STIMULI."""
        extra = []
        if changed := [s for s in self.stimuli if s not in DEFAULT_STIMULI]:
            extra.append(f"stimuli changed: {changed!r}")
        if dropped := sorted({s.name for s in DEFAULT_STIMULI} - {s.name for s in self.stimuli}):
            extra.append(f"stimuli dropped: {dropped}")
        return _short_repr(self, (), skip=("stimuli",), extra=extra)


def _short_repr(obj: Any, always: Sequence[str], *, skip: Sequence[str] = (), extra: Sequence[str] = ()) -> str:
    parts = [f"{f.name}={getattr(obj, f.name)!r}" for f in fields(obj)
             if f.name not in skip and (f.name in always or getattr(obj, f.name) != _default(f))]
    return f"{type(obj).__name__}({', '.join([*parts, *extra])})"


def _default(f: Any) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default


# ---- low-level writers -----------------------------------------------------------------------------


def _fixed(values: Sequence[str], pad: int = 0) -> np.ndarray:
    raw = [v.encode("utf-8") for v in values]
    return np.array(raw, dtype=f"S{max([1, *map(len, raw)]) + pad}")


def _text(group: h5py.Group, name: str, value: str | Sequence[str], encoding: Encoding = "fixed",
          *, custom: bool = False, pad: int = 0) -> h5py.Dataset:
    """A string dataset: scalar for a str, 1-D for a sequence; fixed-length (exact length + ``pad``; the writer
    padded list-derived arrays by one byte), vlen ASCII or vlen UTF-8."""
    values = [value] if isinstance(value, str) else list(value)
    if encoding == "fixed":
        data: Any = _fixed(values, pad)
    else:
        data = np.empty(len(values), dtype=object)
        data[:] = [v.encode("utf-8") for v in values] if encoding == "vlen-ascii" else values
    dtype = None if encoding == "fixed" else h5py.string_dtype("ascii" if encoding == "vlen-ascii" else "utf-8")
    ds = group.create_dataset(name, data=data[0] if isinstance(value, str) else data, dtype=dtype)
    if custom:
        ds.attrs["neurodata_type"] = np.bytes_(b"Custom")
    return ds


def _array(group: h5py.Group, name: str, data: Any, *, custom: bool = False, **attrs: Any) -> h5py.Dataset:
    ds = group.create_dataset(name, data=data)
    if custom:
        ds.attrs["neurodata_type"] = np.bytes_(b"Custom")
    ds.attrs.update(attrs)
    return ds


def _type_attrs(obj: h5py.HLObject, spec: TreeSpec, neurodata_type: str, ancestry: Sequence[str] = ()) -> None:
    """neurodata_type (vlen UTF-8 in real files) and ancestry (fixed-length array), or the knob's encoding."""
    style = spec.type_attrs
    obj.attrs["neurodata_type"] = np.bytes_(neurodata_type.encode()) if style == "fixed" else neurodata_type
    if ancestry:
        obj.attrs["ancestry"] = np.array(list(ancestry), dtype=h5py.string_dtype()) if style == "vlen" \
            else _fixed(ancestry)


def _times(n: int, style: TimeStyle, t0: float = 10.0) -> np.ndarray:
    t = t0 + np.arange(n, dtype=np.float64) / 30.0
    if n and style == "nan":
        t[n // 2] = np.nan
    elif n and style == "inf":
        t[-1] = np.inf
    elif style == "reversed":
        t = t[::-1].copy()
    elif n > 1 and style == "repeated":
        t[1] = t[0]
    return t


def _series(parent: h5py.Group, name: str, spec: TreeSpec, kind: str, description: str, data: Any,
            timestamps: np.ndarray | None, *, unit: str = "frame") -> h5py.Group:
    """A TimeSeries group with the real attributes, ``data`` (+@unit etc.), ``timestamps`` and ``num_samples``."""
    g = parent.create_group(name)
    ancestry = {"TimeSeries": ["TimeSeries"], "TwoPhotonSeries": ["TimeSeries", "ImageSeries", "TwoPhotonSeries"]}
    _type_attrs(g, spec, "TimeSeries", ancestry.get(kind, ["TimeSeries", kind]))
    g.attrs.update({"comments": "", "description": np.bytes_(description.encode()), "help": HELP[kind],
                    "source": ""})
    if data is not None:
        _array(g, "data", data, conversion=1.0, resolution=1.0, unit=np.bytes_(unit.encode()))
    if timestamps is not None:
        _array(g, "timestamps", timestamps, interval=np.int64(1), unit=np.bytes_(b"Seconds"))
    n = np.shape(data)[-1] if kind == "RoiResponseSeries" and np.ndim(data) == 2 else len(np.atleast_1d(data))
    g.create_dataset("num_samples", data=np.int32(n if data is not None else 0))
    return g


def _interface(parent: h5py.Group, name: str, spec: TreeSpec, help_text: str, source: str) -> h5py.Group:
    g = parent.create_group(name)
    _type_attrs(g, spec, "Interface")
    g.attrs.update({"help": help_text, "source": np.bytes_(source.encode())})
    return g


# ---- the session -----------------------------------------------------------------------------------


def write_tree(path: str | Path, spec: TreeSpec = TreeSpec()) -> Path:
    """Write ``spec`` as an NWB 1.0 file at ``path`` (overwritten) and return the path."""
    path = Path(path)
    with h5py.File(path, "w", libver="earliest") as f:
        _root(f, spec)
        _general(f.create_group("general"), spec)
        _pipeline(f.create_group("processing").create_group("brain_observatory_pipeline"), spec)
        _stimulus(f.create_group("stimulus"), spec)
        if spec.compound_at is not None:
            g = f.require_group(spec.compound_at)
            g.create_dataset("x", data=np.zeros(3, dtype=[("y", "<f8"), ("z", "<i4")]))
            g.create_dataset("x.y", data=np.arange(3, dtype=np.float64))
        for p in sorted(spec.zero_d):
            ds = f[p]
            value, attrs, dtype = ds[()], dict(ds.attrs), ds.dtype
            flat = np.asarray(value).reshape(-1)
            del f[p]
            new = f.create_dataset(p, data=flat[0] if flat.size else np.zeros((), dtype=dtype)[()], dtype=dtype)
            new.attrs.update(attrs)
        for p in sorted(spec.omit):
            if p not in f and any(p.startswith(o + "/") for o in spec.omit):
                continue  # inside an omitted group
            del f[p]
    return path


def _root(f: h5py.File, spec: TreeSpec) -> None:
    ascii_ = h5py.string_dtype("ascii")
    f.create_dataset("nwb_version", data=b"NWB-1.0.5", dtype=ascii_)
    f.create_dataset("identifier", data=b"Brain Observatory Visual Coding Experiment 1; NWB-1.0.5; "
                                        b"Fri May 19 06:44:21 2017", dtype=ascii_)
    f.create_dataset("session_description", data=b"2-photon recording of visual areas in head-fixed mouse with "
                                                 b"visual stimulus", dtype=ascii_)
    f.create_dataset("session_start_time", data=np.bytes_(b"Wed Jan 20 10:24:01 2016"))
    f.create_dataset("file_create_date", data=[b"Fri May 19 06:44:21 2017"], dtype=ascii_, maxshape=(None,),
                     chunks=True)
    f.create_group("analysis")
    f.create_group("epochs").attrs["tags"] = np.bytes_(b"[]")
    acq = f.create_group("acquisition")
    acq.create_group("images")
    ts = acq.create_group("timeseries")
    movie = _series(ts, "2p_image_series", spec, "TwoPhotonSeries", "Unprocessed in-vivo two-photon calcium "
                    "imaging of neuronal activity", None, _times(spec.n_frames + 1, "regular"))
    movie["data"] = h5py.ExternalLink("/nonexistent/ophys_movie.h5", "/data")
    movie.attrs["extern_fields"] = _fixed(["data"])
    _array(movie, "dimension", np.array([spec.mask_side] * 2, dtype=np.int32))
    _text(movie, "imaging_plane", "imaging_plane_1")
    for reg in dict.fromkeys(spec.regular):
        _regular(ts, reg, spec)


def _regular(parent: h5py.Group, reg: RegularSpec, spec: TreeSpec) -> None:
    g = _series(parent, reg.name, spec, "TimeSeries", "regularly sampled", np.arange(reg.n, dtype=np.float32),
                None, unit="volt")
    start = g.create_dataset("starting_time", data=np.float64(2.5) if reg.starting_time == "scalar"
                             else np.array([2.5]))
    rate = {"float": np.float32(30.0), "int": np.int64(30), "array1": np.array([30.0], dtype=np.float32),
            "string": np.bytes_(b"30.0"), "missing": None}[reg.rate]
    if rate is not None:
        start.attrs["rate"] = rate
    start.attrs["unit"] = np.bytes_(b"Seconds")


def _general(g: h5py.Group, spec: TreeSpec) -> None:
    def text(group: h5py.Group, name: str, value: str, custom: bool = False) -> None:
        _text(group, name, [value] if spec.general_as_array else value, spec.general_encoding, custom=custom)

    for name, value in [("session_type", "three_session_B"), ("experiment_container_id", "511507144"),
                        ("fov", "400x400 microns (512 x 512 pixels)"), ("targeted_structure", "VISp"),
                        ("specimen_name", "Rorb-IRES2-Cre;Camk2a-tTA;Ai93-222181")]:
        text(g, name, value, custom=True)
    text(g, "session_id", "496908818")
    g["session_id"].attrs["comments"] = np.bytes_(b"ID corresponds to Allen Institute 'experiment_sessions ID'")
    _text(g, "generated_by", ["pipeline", "brain_observatory", "version", "3.0"], custom=True, pad=1)
    text(g.create_group("devices"), "2-photon microscope", "Nikon A1R-MP multiphoton microscope. CAM2P.2 Please "
         "see http://help.brain-map.org/display/observatory/Allen+Brain+Observatory for details")
    plane = g.create_group("optophysiology").create_group("imaging_plane_1")
    for name, value in [("location", "VISp"), ("excitation_lambda", "910 nanometers"), ("indicator", "GCaMP6f"),
                        ("imaging_rate", "31Hz"), ("device", "2-photon microscope")]:
        text(plane, name, value)
    text(plane, "imaging depth", "275 microns", custom=True)
    subject = g.create_group("subject")
    for name, value in [("age", "90 days"), ("sex", "male"), ("species", "Mus musculus"),
                        ("genotype", "Rorb-IRES2-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt")]:
        text(subject, name, value)


def _n(spec: TreeSpec, key: str) -> int:
    return spec.n_samples.get(key, spec.n_frames + (key == "motion"))


def _timestamps(spec: TreeSpec, key: str) -> np.ndarray:
    return _times(max(0, _n(spec, key) + spec.time_delta.get(key, 0)), spec.time_style.get(key, "regular"))


def _pipeline(pipe: h5py.Group, spec: TreeSpec) -> None:
    names = ["BehavioralTimeSeries", "DfOverF", "Fluorescence", "ImageSegmentation", "MotionCorrection"]
    _type_attrs(pipe, spec, "Module")
    pipe.attrs["interfaces"] = _fixed(names)
    rows = max(0, spec.n_rois + spec.label_delta.get("rows", 0))
    roi_names = _fixed([f"roi_{i:04d}" for i in range(rows)], pad=1)
    rng = np.random.default_rng(0)
    for key in TRACES:
        iface_name, series_name = SERIES[key].split("/")[-2:]
        iface = pipe[iface_name] if iface_name in pipe else _interface(
            pipe, iface_name, spec, f"{iface_name} over time of one or more ROIs", "/projects/x.h5")
        data = rng.random((rows, _n(spec, key))).astype(np.float32)
        g = _series(iface, series_name, spec, "RoiResponseSeries", f"{key} traces", data, _timestamps(spec, key))
        g.create_dataset("roi_names", data=roi_names)
        g["segmentation_interface"] = h5py.SoftLink(SEG)
        _text(g, "segmentation_interface_path", SEG.lstrip("/"))
        if key in ("fluorescence", "neuropil"):
            _array(g, "r", np.full(rows, 0.7, dtype=np.float32), custom=True)
            _array(g, "rmse", np.full(rows, 0.1, dtype=np.float32), custom=True)
        if key == "fluorescence":
            _text(g, "comments", "'data' stores raw traces.", custom=True)
            g["neuropil_traces"] = h5py.SoftLink(SERIES["neuropil"] + "/data")
            _text(g, "neuropil_traces_path", SERIES["neuropil"].lstrip("/") + "/data", custom=True)
    behavior = _interface(pipe, "BehavioralTimeSeries", spec, "General container for storing time series",
                          "Measured data")
    _series(behavior, "running_speed", spec, "TimeSeries", "Velocity of the running wheel",
            np.linspace(0, 5, _n(spec, "running_speed"), dtype=np.float32), _timestamps(spec, "running_speed"))
    motion_iface = _interface(pipe, "MotionCorrection", spec, "Image stacks whose frames have been shifted",
                              "Acquired 2-photon image")
    motion = motion_iface.create_group("2p_image_series")
    motion["original"] = h5py.SoftLink("/acquisition/timeseries/2p_image_series")
    xy = _series(motion, "xy_translation", spec, "TimeSeries", "x, y shifts",
                 np.zeros((_n(spec, "motion"), 2), dtype=np.float32), _timestamps(spec, "motion"))
    _text(xy, "feature_description", spec.motion_features, custom=True)
    _segmentation(pipe, spec)


def _segmentation(pipe: h5py.Group, spec: TreeSpec) -> None:
    seg = _interface(pipe, "ImageSegmentation", spec, "Stores groups of pixels that define regions of interest",
                     "/projects/x.h5")
    n = spec.n_rois

    def label_len(key: str) -> int:
        return max(0, n + spec.label_delta.get(key, 0))

    _array(seg, "cell_specimen_ids", 517425074 + np.arange(label_len("cell_specimen_ids"), dtype=np.int64),
           custom=True)
    _text(seg, "roi_ids", [str(1000 + i) for i in range(label_len("roi_ids"))], custom=True)
    plane = seg.create_group("imaging_plane_1")
    _text(plane, "description", "Image segmentation masks for 2-P imaging")
    _text(plane, "imaging_plane_name", "imaging_plane_1")
    side = spec.mask_side
    ref = plane.create_group("reference_images")
    _series(ref, "maximum_intensity_projection_image", spec, "ImageSeries", "",
            np.arange(side * side, dtype=np.uint16).reshape(side, side), np.zeros(1), unit="grayscale")
    for i in range(n):
        xy = np.array([[(i + 1) % side, i % side], [(i + 2) % side, i % side]], dtype=np.uint16)  # (x, y) rows
        img = np.zeros((side, side), dtype=np.float32)
        img[xy[:, 1], xy[:, 0]] = 1.0  # spec: img_mask[y, x]
        if spec.orientation == "transposed":
            img = np.ascontiguousarray(img.T)
        elif spec.orientation == "neither":
            free = [(x, y) for x in range(side) for y in range(side) if img[y, x] == 0 and img[x, y] == 0]
            xy = np.array(free[: len(xy)], dtype=np.uint16)
        roi = plane.create_group(f"roi_{i:04d}")
        roi.create_dataset("img_mask", data=img)
        roi.create_dataset("pix_mask", data=xy)
        roi.create_dataset("pix_mask_weight", data=np.ones(len(xy), dtype=np.float32))
        _text(roi, "roi_description", "cell")
    names = spec.roi_names if spec.roi_names is not None else tuple(
        f"roi_{i:04d}" for i in range(label_len("roi_list")))
    _text(plane, "roi_list", names, spec.roi_list_encoding, pad=1)


def _stimulus(stim: h5py.Group, spec: TreeSpec) -> None:
    templates = stim.create_group("templates")
    for name, dtype in (("natural_scenes", np.float32), ("natural_movie_one", np.uint8)):
        g = _series(templates, f"{name}_image_stack", spec, "TimeSeries", name, np.ones((3, 2, 2), dtype=dtype),
                    None)
        del g["num_samples"]
        g.attrs["missing_fields"] = _fixed(["num_samples"])
        _array(g, "bits_per_pixel", np.int64(8), custom=True)
        _array(g, "dimension", np.array([2, 2], dtype=np.int64), custom=True)
    presentation = stim.create_group("presentation")
    for s in spec.stimuli:
        _presentation(presentation, s, spec)


def _presentation(parent: h5py.Group, s: StimulusSpec, spec: TreeSpec) -> None:
    n = len(s.events) if s.kind == "interval" else s.n
    if s.kind == "features":
        columns = len(s.features) if s.columns is None else s.columns
        data: np.ndarray = (np.arange(n * columns, dtype=np.float32) % 7).reshape(n, columns)
        kind = "AbstractFeatureSeries"
    elif s.kind == "index":
        data, kind = np.arange(n, dtype=np.int64) % 3, "IndexSeries"
    else:
        data, kind = np.array(s.events, dtype=np.int8), "IntervalSeries"
    g = _series(parent, f"{s.name}_stimulus", spec, kind, f"{s.name}_stimulus", data,
                _times(max(0, n + s.time_delta), s.time_style, t0=100.0), unit="interval" if s.kind == "interval"
                else "frame")
    g.attrs["comments"] = np.bytes_(b"The data stored here is a precursor for what was displayed.")
    rows = max(0, n + s.frame_duration_delta)
    starts = 10 * np.arange(rows)
    frames = np.stack([starts, starts + 7], axis=1)
    style = s.frame_duration if s.frame_duration != "real" else ("float" if s.kind == "features" else "int")
    fd = {"int": frames.astype(np.int64), "float": frames.astype(np.float32),
          "fractional": frames.astype(np.float32) + np.float32(0.5)}[style]
    _array(g, "frame_duration", fd.reshape(rows, 2), custom=True)
    if s.kind == "features":
        _text(g, "features", s.features, s.features_encoding, pad=1)
        g.attrs["missing_fields"] = _fixed(["feature_units"])
    if s.kind == "index":
        template = f"/stimulus/templates/{s.name}_image_stack"
        g["indexed_timeseries"] = h5py.SoftLink(template)
        _text(g, "indexed_timeseries_path", template)


def series_path(key: str, member: str = "") -> str:
    """Absolute path of a SERIES group, or of one of its members."""
    return f"{SERIES[key]}/{member}" if member else SERIES[key]


def stimulus_path(name: str, member: str = "") -> str:
    """Absolute path of ``<name>_stimulus`` under /stimulus/presentation, or of one of its members."""
    base = f"{PRESENTATION}/{name}_stimulus"
    return f"{base}/{member}" if member else base


def with_stimulus(spec_stimuli: tuple[StimulusSpec, ...], name: str, **changes: Any) -> tuple[StimulusSpec, ...]:
    """``spec_stimuli`` with the stimulus ``name`` changed."""
    return tuple(replace(s, **changes) if s.name == name else s for s in spec_stimuli)
