"""The synthetic Brain Observatory files reproduce the real on-disk layout (shared/docs/bo_nwb1_layout.md)."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from nwb1zarr.testing import PIX_MASK_COLUMNS, VARIANTS, SessionSpec, _h5, write_generic_nwb1, write_session
from nwb1zarr.testing.__main__ import main as cli_main
from nwb1zarr.testing._schedule import EPOCH_ORDER, EPOCH_THRESHOLD, STIMULI, plan_epochs, template_shape

PIPE = "processing/brain_observatory_pipeline"
RAW = "acquisition/timeseries/2p_image_series"
CORRECTED = f"{PIPE}/MotionCorrection/2p_image_series/corrected"
STIMULI_BY_SESSION = {
    "three_session_A": {"drifting_gratings", "natural_movie_one", "natural_movie_three", "spontaneous"},
    "three_session_B": {"static_gratings", "natural_scenes", "natural_movie_one", "spontaneous"},
    "three_session_C": {"locally_sparse_noise", "natural_movie_one", "natural_movie_two", "spontaneous"},
    "three_session_C2": {"locally_sparse_noise_4deg", "locally_sparse_noise_8deg", "natural_movie_one",
                         "natural_movie_two", "spontaneous"},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("variants")
    return {name: write_session(out / f"{name}.nwb", spec) for name, spec in VARIANTS.items()}


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest, files: dict[str, Path]):
    name = request.param
    with h5py.File(files[name], "r") as f:
        yield VARIANTS[name], f


# ---------------------------------------------------------------------------- storage helpers


def is_fixed(obj_type: h5py.h5t.TypeID) -> bool:
    return isinstance(obj_type, h5py.h5t.TypeStringID) and not obj_type.is_variable_str()


def attr_type(obj: h5py.HLObject, name: str) -> h5py.h5t.TypeID:
    return obj.attrs.get_id(name).get_type()


def assert_fixed_attr(obj: h5py.HLObject, name: str, value: bytes | list[bytes]) -> None:
    t = attr_type(obj, name)
    assert is_fixed(t), f"{obj.name}@{name} should be fixed-length"
    expected = np.array(value)
    assert t.get_strpad() == h5py.h5t.STR_NULLPAD
    assert t.get_size() == expected.dtype.itemsize, f"{obj.name}@{name}: exact length expected"
    assert obj.attrs.get_id(name).shape == expected.shape
    assert np.array_equal(obj.attrs[name], expected)


def assert_vlen_utf8_attr(obj: h5py.HLObject, name: str, value: str | None = None) -> None:
    t = attr_type(obj, name)
    assert t.is_variable_str() and t.get_cset() == h5py.h5t.CSET_UTF8, f"{obj.name}@{name}"
    if value is not None:
        assert obj.attrs[name] == value


def assert_fixed_scalar(dset: h5py.Dataset, value: bytes | None = None) -> None:
    t = dset.id.get_type()
    assert dset.shape == () and is_fixed(t) and t.get_strpad() == h5py.h5t.STR_NULLPAD, dset.name
    assert t.get_size() == len(dset[()]), f"{dset.name}: S<n> must be the exact length"
    assert dset.chunks is None and dset.compression is None
    if value is not None:
        assert dset[()] == value


def assert_string_array(dset: h5py.Dataset, values: list[bytes], *, pad: int) -> None:
    t = dset.id.get_type()
    assert is_fixed(t) and dset.ndim == 1 and dset.chunks is None, dset.name
    assert t.get_size() == max(map(len, values)) + pad, f"{dset.name}: S{t.get_size()}"
    assert list(dset[()]) == values


def assert_writer_numeric(dset: h5py.Dataset) -> None:
    assert dset.chunks is not None and dset.compression == "gzip" and dset.compression_opts == 4, dset.name
    assert not dset.shuffle
    assert dset.chunks == h5py._hl.filters.guess_chunk(dset.shape, None, dset.dtype.itemsize)


def soft_links(f: h5py.File) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(group: h5py.Group) -> None:
        for key in group:
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.SoftLink):
                found[f"{group.name}/{key}".lstrip("/")] = link.path
            elif isinstance(link, h5py.HardLink) and isinstance(group[key], h5py.Group):
                walk(group[key])

    walk(f)
    return found


def datasets(f: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}

    def visit(name: str, obj: h5py.HLObject) -> None:
        if isinstance(obj, h5py.Dataset):
            found[name] = obj

    f.visititems(visit)
    return found


def roi_series(spec: SessionSpec) -> list[str]:
    """RoiResponseSeries groups expected under the pipeline module."""
    names = ["Fluorescence/imaging_plane_1", "DfOverF/imaging_plane_1"]
    if spec.pipeline_version != "0.9":
        names.append("Fluorescence/imaging_plane_1_neuropil_response")
    if spec.has_demixed:
        names.append("Fluorescence/imaging_plane_1_demixed_signal")
    return names


def trace_ts(f: h5py.File) -> np.ndarray:
    return f[f"{PIPE}/Fluorescence/imaging_plane_1/timestamps"][()]


# ---------------------------------------------------------------------------- file-wide rules


def test_variants_are_tiny_and_cover_every_switch(files: dict[str, Path]) -> None:
    assert 12 <= len(VARIANTS) <= 16
    assert all(p.stat().st_size < 2**20 for p in files.values())
    specs = VARIANTS.values()
    assert {s.session_type for s in specs} == set(STIMULI_BY_SESSION)
    assert {s.pipeline_version for s in specs} == {"0.9", "2.0", "3.0"}
    assert {s.dff_extra_columns for s in specs} == {-1, 0, 1}
    for switch in ("eye_tracking", "demixed", "movie_extra_frame", "external_links"):
        assert {getattr(s, switch) for s in specs} == {True, False}, switch


def test_top_level(variant) -> None:
    _, f = variant
    assert len(f.attrs) == 0
    assert set(f) == {"acquisition", "analysis", "epochs", "file_create_date", "general", "identifier",
                      "nwb_version", "processing", "session_description", "session_start_time", "stimulus"}
    for name in ("identifier", "nwb_version", "session_description"):
        t = f[name].id.get_type()
        assert f[name].shape == () and t.is_variable_str() and t.get_cset() == h5py.h5t.CSET_ASCII
    assert f["nwb_version"][()] == b"NWB-1.0.5"
    assert re.fullmatch(rb"Brain Observatory Visual Coding Experiment \d{9}; NWB-1\.0\.5; "
                        rb"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}", f["identifier"][()])
    created = f["file_create_date"]
    assert created.shape == (1,) and created.maxshape == (None,) and created.chunks is not None
    assert h5py.check_string_dtype(created.dtype).encoding == "ascii"
    assert f["identifier"][()].endswith(created[0])
    assert_fixed_scalar(f["session_start_time"])
    assert f["session_start_time"].id.get_type().get_size() == 24
    assert_fixed_attr(f["epochs"], "tags", b"[]")
    assert len(f["epochs"]) == len(f["analysis"]) == len(f["acquisition/images"]) == 0


def test_general(variant) -> None:
    spec, f = variant
    g = f["general"]
    for name, dset in datasets(g).items():
        if name != "generated_by":
            assert_fixed_scalar(dset)
    text = {k: v[()].decode() for k, v in datasets(g).items() if v.shape == ()}
    assert re.match(r"(.*?)\.\s(.*?)\sPlease*", text["devices/2-photon microscope"]).group(2).startswith("CAM2P")
    assert re.fullmatch(r"\d+ days", text["subject/age"])
    assert re.fullmatch(r"\d+ microns", text["optophysiology/imaging_plane_1/imaging depth"])
    assert ";" in text["subject/genotype"] and text["subject/sex"] in ("male", "female")
    assert re.fullmatch(r"\d{9}", text["session_id"]) and text["session_id"] == text["ophys_experiment_id"]
    assert text["optophysiology/imaging_plane_1/location"] == text["targeted_structure"]
    assert text["session_type"] == spec.session_type
    assert text["fov"].endswith(f"({spec.fov[1]} x {spec.fov[0]} pixels)")
    assert "For more information" in g and "display monitor" in g["devices"]
    assert_fixed_attr(g["session_id"], "comments", b"ID corresponds to Allen Institute 'experiment_sessions ID'")
    assert_fixed_attr(g["specimen_name"], "neurodata_type", b"Custom")
    if spec.pipeline_version == "0.9":
        assert "generated_by" not in g
    else:
        assert_string_array(g["generated_by"], [b"pipeline", b"brain_observatory", b"version",
                                                spec.pipeline_version.encode()], pad=1)
        assert g["generated_by"].dtype == np.dtype("S18")


def test_dataset_storage_rules(variant) -> None:
    _, f = variant
    scalars = ("num_samples", "bits_per_pixel", "format", "imaging_plane", "roi_description", "description")
    for name, dset in datasets(f).items():
        leaf = name.rsplit("/", 1)[-1]
        if leaf in scalars or leaf.endswith("_path"):
            assert dset.shape == (), f"{name} must be an HDF5 scalar"
        if leaf == "num_samples":
            assert dset.dtype == np.int32
        if name in ("file_create_date",) or name.endswith("2p_image_series/data") or name == f"{CORRECTED}/data":
            continue
        if dset.dtype.kind == "S" or dset.shape == ():
            assert dset.chunks is None and dset.compression is None, name
        else:
            assert dset.dtype.kind in "iuf", name
            assert_writer_numeric(dset)


def test_attribute_encodings(variant) -> None:
    spec, f = variant
    seen = set()

    def check(name: str, obj: h5py.HLObject) -> None:
        for key in obj.attrs:
            seen.add(key)
            t = attr_type(obj, key)
            if key == "help":
                assert_vlen_utf8_attr(obj, key)
            elif key == "neurodata_type":
                if obj.attrs[key] == b"Custom":
                    assert_fixed_attr(obj, key, b"Custom")
                else:
                    assert_vlen_utf8_attr(obj, key)
                    assert obj.attrs[key] in ("TimeSeries", "Interface", "Module")
            elif key in ("ancestry", "missing_fields", "extern_fields", "timestamp_link", "data_link",
                         "interfaces", "features"):
                assert is_fixed(t) and obj.attrs.get_id(key).shape[0] >= 1, f"{name}@{key}"
                assert t.get_size() == max(len(v) for v in obj.attrs[key]), f"{name}@{key}"
            elif key in ("comments", "description", "source"):
                if t.is_variable_str():
                    assert_vlen_utf8_attr(obj, key, "")
                else:
                    assert_fixed_attr(obj, key, obj.attrs[key])
            elif key == "interval":
                assert obj.attrs[key] == 1 and obj.attrs[key].dtype == np.int64 and obj.attrs[key].shape == ()
            elif key in ("conversion", "resolution"):
                assert obj.attrs[key].dtype == np.float64 and obj.attrs[key].shape == ()
            elif key in ("unit", "links", "tags"):
                assert_fixed_attr(obj, key, obj.attrs[key])
            else:
                raise AssertionError(f"unexpected attribute {name}@{key}")

    f.visititems(check)
    assert {"ancestry", "timestamp_link", "links", "interval", "conversion"} <= seen
    assert ("data_link" in seen) == (spec.pipeline_version != "0.9")
    raw = f[RAW]
    assert_fixed_attr(raw, "ancestry", [b"TimeSeries", b"ImageSeries", b"TwoPhotonSeries"])
    assert_fixed_attr(raw, "extern_fields", [b"data"])
    assert_fixed_attr(raw, "missing_fields", [b"pmt_gain", b"scan_line_rate"])
    assert_vlen_utf8_attr(raw, "comments", "")
    assert_fixed_attr(f[f"{PIPE}/BehavioralTimeSeries/running_speed"], "ancestry", [b"TimeSeries"])
    assert_vlen_utf8_attr(f[f"{PIPE}/ImageSegmentation/imaging_plane_1/reference_images/"
                            "maximum_intensity_projection_image"], "description", "")


def test_quirks(variant) -> None:
    _, f = variant
    link = [b"processing/brain_observatory_pipeline/DfOverF/imaging_plane_1", b"/" + RAW.encode()]
    assert_fixed_attr(f[RAW], "timestamp_link", link)
    assert_fixed_attr(f[f"{PIPE}/DfOverF/imaging_plane_1"], "timestamp_link", link)
    assert isinstance(f[f"{PIPE}/DfOverF/imaging_plane_1"].get("timestamps", getlink=True), h5py.HardLink)
    raw_series = f[f"{PIPE}/Fluorescence/imaging_plane_1"]
    assert_vlen_utf8_attr(raw_series, "comments", "")
    assert_fixed_scalar(raw_series["comments"])
    assert raw_series["comments"].id.get_type().get_size() == 257
    index_data = f[f"{PIPE}/BehavioralTimeSeries/running_speed_index/data"]
    assert np.isnan(index_data.attrs["conversion"]) and index_data.attrs["resolution"] == 1.0
    motion_links = b"'original' is '/acquisition/timeseries/2p_image_series'"
    assert_fixed_attr(f[f"{PIPE}/MotionCorrection"], "links", motion_links)
    assert_fixed_attr(f[f"{PIPE}/MotionCorrection/2p_image_series"], "links", motion_links)
    assert "imaging depth" in f["general/optophysiology/imaging_plane_1"]
    for name in ("num_samples", "bits_per_pixel", "format", "imaging_plane"):
        assert f[RAW][name].shape == ()
    assert f[f"{RAW}/num_samples"].dtype == np.int32 and f[f"{RAW}/bits_per_pixel"].dtype == np.int32


def test_links(variant) -> None:
    spec, f = variant
    links = soft_links(f)
    expected = {
        f"{PIPE}/MotionCorrection/2p_image_series/original": "/" + RAW,
        f"{PIPE}/BehavioralTimeSeries/running_speed_index/indexed_timeseries":
            f"/{PIPE}/BehavioralTimeSeries/running_speed",
    }
    for name in roi_series(spec):
        expected[f"{PIPE}/{name}/segmentation_interface"] = f"/{PIPE}/ImageSegmentation"
    if spec.pipeline_version != "0.9":
        expected[f"{PIPE}/Fluorescence/imaging_plane_1/neuropil_traces"] = \
            f"/{PIPE}/Fluorescence/imaging_plane_1_neuropil_response/data"
    if spec.eye_tracking:
        expected[f"{PIPE}/PupilTracking/pupil_size_index/indexed_timeseries"] = f"/{PIPE}/PupilTracking/pupil_size"
    for stim in STIMULI_BY_SESSION[spec.session_type]:
        if STIMULI[stim].series == "IndexSeries":
            expected[f"stimulus/presentation/{stim}_stimulus/indexed_timeseries"] = \
                f"/stimulus/templates/{stim}_image_stack"
    assert links == expected
    for name, target in links.items():
        path = f[name.rsplit("/", 1)[0]][name.rsplit("/", 1)[1] + "_path"]
        assert_fixed_scalar(path)
        assert path[()].decode().lstrip("/") == target.lstrip("/")
    rel = f[f"{PIPE}/BehavioralTimeSeries/running_speed_index/indexed_timeseries_path"][()]
    assert rel == b"processing/brain_observatory_pipeline/BehavioralTimeSeries/running_speed"
    assert f[f"{PIPE}/MotionCorrection/2p_image_series/original_path"][()] == b"/" + RAW.encode()


def test_movie_data_external_links(variant) -> None:
    spec, f = variant
    for group in (f[RAW], f[CORRECTED]):
        link = group.get("data", getlink=True)
        if spec.external_links:
            assert isinstance(link, h5py.ExternalLink) and link.path == "/data"
            assert not Path(link.filename).exists() and link.filename.startswith("/projects/")
            assert "data" in group
            with pytest.raises(KeyError):
                group["data"]
        else:
            assert isinstance(link, h5py.HardLink)
            assert group["data"].dtype == np.float64 and list(group["data"][()]) == [1.0]
        assert group["dimension"].dtype == np.int32 and list(group["dimension"][()]) == list(spec.fov[::-1])
        assert group["field_of_view"].dtype == np.float32


def test_segmentation(variant) -> None:
    spec, f = variant
    seg = f[f"{PIPE}/ImageSegmentation"]
    ids = seg["cell_specimen_ids"][()]
    assert ids.dtype == np.int64 and ids.shape == (spec.n_rois,) and len(set(ids)) == spec.n_rois
    assert ids.min() >= 10**8 and ids.max() < 10**9 and not np.all(np.diff(ids) > 0)
    roi_ids = seg["roi_ids"][()]
    assert seg["roi_ids"].dtype == np.dtype("S9") and all(re.fullmatch(rb"\d{9}", r) for r in roi_ids)
    assert_fixed_attr(seg["roi_ids"], "neurodata_type", b"Custom")
    names = [f"roi_{i:04d}".encode() for i in range(spec.n_rois)]
    plane = seg["imaging_plane_1"]
    assert_string_array(plane["roi_list"], names, pad=1)
    assert plane["roi_list"].dtype == np.dtype("S9")
    assert PIX_MASK_COLUMNS == ("x", "y")
    for name in names:
        roi = plane[name.decode()]
        img, pix, weight = roi["img_mask"][()], roi["pix_mask"][()], roi["pix_mask_weight"][()]
        assert img.dtype == np.float32 and img.shape == spec.fov and set(np.unique(img)) <= {0.0, 1.0}
        assert pix.dtype == np.uint16 and pix.ndim == 2 and pix.shape[1] == 2
        assert weight.dtype == np.float32 and weight.shape == (pix.shape[0],) and pix.shape[0] >= 1
        assert np.array_equal(img[pix[:, 1], pix[:, 0]], weight)   # rows are (x, y)
        assert pix.shape[0] == np.count_nonzero(img)
        assert_fixed_scalar(roi["roi_description"], b"cell")
        assert not roi["img_mask"].attrs
    mip = plane["reference_images/maximum_intensity_projection_image"]
    assert mip["data"].dtype == np.uint16 and mip["data"].shape == spec.fov
    assert mip["data"].attrs["unit"] == b"grayscale" and mip["num_samples"][()] == 1
    assert list(mip["timestamps"][()]) == [0.0]


def test_traces_and_timestamps(variant) -> None:
    spec, f = variant
    n, t = spec.n_rois, spec.n_frames
    ts = trace_ts(f)
    assert ts.dtype == np.float64 and ts.shape == (t,) and 9 < ts[0] < 10
    assert np.allclose(np.diff(ts), 0.0332, atol=5e-4)
    series = roi_series(spec)
    assert ("Fluorescence/imaging_plane_1_demixed_signal" in f[PIPE]) == spec.has_demixed
    for name in series:
        g = f[f"{PIPE}/{name}"]
        assert g["timestamps"][()].tobytes() == ts.tobytes(), name
        assert g["num_samples"][()] == t and g["num_samples"].dtype == np.int32
        width = t + spec.dff_extra_columns if name.startswith("DfOverF") else t
        assert g["data"].dtype == np.float32 and g["data"].shape == (n, width), name
        assert_string_array(g["roi_names"], [f"roi_{i:04d}".encode() for i in range(n)], pad=1)
        assert_fixed_attr(g, "ancestry", [b"TimeSeries", b"RoiResponseSeries"])
    fl = f[f"{PIPE}/Fluorescence"]
    neuropil = fl["imaging_plane_1/neuropil_traces"]
    assert neuropil.shape == (n, t) and neuropil.dtype == np.float32
    assert isinstance(fl["imaging_plane_1"].get("neuropil_traces", getlink=True),
                      h5py.HardLink if spec.pipeline_version == "0.9" else h5py.SoftLink)
    assert ("imaging_plane_1_neuropil_response" in fl) == (spec.pipeline_version != "0.9")
    for r in ("r", "rmse"):
        assert fl[f"imaging_plane_1/{r}"].dtype == np.float32 and fl[f"imaging_plane_1/{r}"].shape == (n,)
    movie_len = t + 1 if spec.movie_extra_frame else t
    for name in (RAW, CORRECTED, f"{PIPE}/MotionCorrection/2p_image_series/" +
                 ("xy_translations" if spec.pipeline_version == "0.9" else "xy_translation")):
        movie_ts = f[f"{name}/timestamps"][()]
        assert movie_ts.shape == (movie_len,) and movie_ts[:t].tobytes() == ts.tobytes(), name
        assert f[f"{name}/num_samples"][()] == movie_len
    xy = f[f"{PIPE}/MotionCorrection/2p_image_series"]
    xy = xy["xy_translations" if spec.pipeline_version == "0.9" else "xy_translation"]
    assert xy["data"].dtype == np.float32 and xy["data"].shape == (movie_len, 2)
    assert_string_array(xy["feature_description"], [b"x_motion", b"y_motion"], pad=0)


def exact_sub_slice(part: np.ndarray, whole: np.ndarray) -> int:
    start = int(np.flatnonzero(whole == part[0])[0])
    assert start > 0 and start + part.size < whole.size
    assert whole[start:start + part.size].tobytes() == part.tobytes()
    return start


def test_behaviour(variant) -> None:
    spec, f = variant
    ts = trace_ts(f)
    bts = f[f"{PIPE}/BehavioralTimeSeries"]
    run = bts["running_speed"]
    run_ts = run["timestamps"][()]
    exact_sub_slice(run_ts, ts)
    assert bts["running_speed_index/timestamps"][()].tobytes() == run_ts.tobytes()
    data = run["data"]
    assert data.dtype == np.float32 and data.attrs["unit"] == b"frame"
    assert data.shape == ((run_ts.size, 1) if spec.pipeline_version == "0.9" else (run_ts.size,))
    assert bts["running_speed_index/data"].dtype == np.int64
    module = f[PIPE]
    expected = ["BehavioralTimeSeries", "DfOverF", "Fluorescence", "ImageSegmentation", "MotionCorrection"]
    if spec.eye_tracking:
        expected += ["EyeTracking", "PupilTracking"]
    assert_fixed_attr(module, "interfaces", [n.encode() for n in sorted(expected)])
    assert sorted(module) == sorted(expected)
    if not spec.eye_tracking:
        return
    eye_ts = module["PupilTracking/pupil_size/timestamps"][()]
    exact_sub_slice(eye_ts, ts)
    for name in ("pupil_location", "pupil_location_spherical"):
        g = module[f"EyeTracking/{name}"]
        assert g["data"].dtype == np.float64 and g["data"].shape == (eye_ts.size, 2)
        assert np.isnan(g["data"][()]).any() and g["timestamps"][()].tobytes() == eye_ts.tobytes()
        assert g["features"].shape == (2,) and g["features"].dtype.kind == "S"
        assert_fixed_attr(g["features"], "neurodata_type", b"Custom")
    size = module["PupilTracking/pupil_size/data"][()]
    assert size.shape == eye_ts.shape and np.isnan(size).any()
    assert np.isnan(module["PupilTracking/pupil_size_index/data"].attrs["conversion"])


# ---------------------------------------------------------------------------- stimuli


def sdk_blocks(start: np.ndarray, end: np.ndarray, threshold: int) -> int:
    """Number of epochs AllenSDK's get_epoch_mask_list would cut this stimulus into."""
    order = np.lexsort((end, start))
    return int(np.sum(start[order][1:] - end[order][:-1] > threshold)) + 1


def test_stimulus_presentations(variant) -> None:
    spec, f = variant
    ts = trace_ts(f)
    presentation = f["stimulus/presentation"]
    names = STIMULI_BY_SESSION[spec.session_type]
    assert set(presentation) == {f"{n}_stimulus" for n in names}
    assert set(f["stimulus/templates"]) == {f"{n}_image_stack" for n in names if STIMULI[n].template}
    order = EPOCH_ORDER[spec.session_type]
    for name in names:
        g = presentation[f"{name}_stimulus"]
        assert_fixed_attr(g, "description", f"{name}_stimulus".encode())
        assert g.attrs.get_id("comments").get_type().get_size() == 222
        frames = g["frame_duration"][()]
        data = g["data"][()]
        assert frames.shape == (data.shape[0], 2) and g["num_samples"][()] == data.shape[0]
        assert_fixed_attr(g["frame_duration"], "neurodata_type", b"Custom")
        series = STIMULI[name].series
        assert_fixed_attr(g, "ancestry", [b"TimeSeries", series.encode()])
        if series == "IntervalSeries":
            assert data.dtype == np.int8 and frames.dtype == np.int64
            assert list(data) == [1, -1] * order.count(name)
            starts, ends = frames[data == 1, 0], frames[data == -1, 0]
            assert g["timestamps"][()].tobytes() == ts[frames[:, 0]].tobytes()
        else:
            starts, ends = frames[:, 0].astype(np.int64), frames[:, 1].astype(np.int64)
            assert g["timestamps"][()].tobytes() == ts[starts].tobytes()
            assert np.all(ends > starts)
        assert starts.min() >= 0 and ends.max() < spec.n_frames
        assert sdk_blocks(starts, ends, EPOCH_THRESHOLD[spec.session_type]) == order.count(name), name
        if series == "AbstractFeatureSeries":
            assert data.dtype == np.float32 and frames.dtype == np.float32 and data.shape[1] == 3
            assert_fixed_attr(g, "missing_fields", [b"feature_units"])
            assert g["data"].attrs["unit"] == b"see 'feature_units'"
            features = list(g["features"][()])
            if name == "static_gratings":
                assert features == [b"orientation", b"spatial_frequency", b"phase"]
                assert g["features"].dtype == np.dtype("S18")
                assert np.isnan(data).all(axis=1).any()
            else:
                assert features == [b"temporal_frequency", b"orientation", b"blank_sweep"]
                assert g["features"].dtype == np.dtype("S19")
                blank = data[:, 2] == 1
                assert blank.any() and np.isnan(data[blank, :2]).all() and not np.isnan(data[~blank]).any()
        elif series == "IndexSeries":
            assert data.dtype == np.int64 and frames.dtype == np.int64
            n_template = f[f"stimulus/templates/{name}_image_stack/data"].shape[0]
            assert data.max() < n_template and data.min() >= (-1 if name == "natural_scenes" else 0)
            if name == "natural_scenes":
                assert (data == -1).any()
            if STIMULI[name].kind == "movie":
                assert data.size % n_template == 0 and set(data) == set(range(n_template))
    epochs = [e.stimulus for e in plan_epochs(spec)]
    assert tuple(epochs) == order


def test_templates(variant) -> None:
    spec, f = variant
    for name, g in f["stimulus/templates"].items():
        stim = name.removesuffix("_image_stack")
        data = g["data"]
        assert data.shape == template_shape(stim, spec.template_scale)
        assert data.dtype == np.dtype(STIMULI[stim].template_dtype)
        values = data[()]
        if stim.startswith("locally_sparse_noise"):
            assert set(np.unique(values)) == {0, 127, 255}
            assert data.shape[1:] == ((8, 14) if stim.endswith("8deg") else (16, 28))
        elif stim == "natural_scenes":
            assert np.array_equal(values, np.round(values)) and values.min() >= 0 and values.max() <= 255
        assert_fixed_attr(g, "ancestry", [b"TimeSeries"])
        assert_fixed_attr(g, "missing_fields", [b"num_samples"])
        assert "timestamps" not in g and "num_samples" not in g
        assert g["bits_per_pixel"].shape == () and g["bits_per_pixel"].dtype == np.int64
        assert g["dimension"].dtype == np.int64 and g["field_of_view"].dtype == np.float32
        assert_fixed_scalar(g["format"], b"raw")
        for field in ("bits_per_pixel", "dimension", "field_of_view", "format"):
            assert_fixed_attr(g[field], "neurodata_type", b"Custom")


# ---------------------------------------------------------------------------- API


def test_deterministic_bytes(tmp_path: Path) -> None:
    spec = VARIANTS["C2"]
    a = write_session(tmp_path / "a.nwb", spec)
    b = write_session(tmp_path / "b.nwb", spec)
    assert a.read_bytes() == b.read_bytes()
    c = write_session(tmp_path / "c.nwb", spec, seed=99)
    with h5py.File(a) as fa, h5py.File(c) as fc:
        assert fa["identifier"][()] != fc["identifier"][()]
        assert not np.array_equal(fa[f"{PIPE}/Fluorescence/imaging_plane_1/data"][()],
                                  fc[f"{PIPE}/Fluorescence/imaging_plane_1/data"][()])


def test_spec_validation_and_presets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="session_type"):
        SessionSpec(session_type="three_session_D")
    with pytest.raises(ValueError, match="dff_extra_columns"):
        SessionSpec(dff_extra_columns=2)
    with pytest.raises(ValueError, match="pipeline_version"):
        SessionSpec(pipeline_version="1.0")
    full = SessionSpec.full(session_type="three_session_A")
    assert (full.n_rois, full.n_frames, full.fov, full.template_scale) == (200, 115_000, (512, 512), 1.0)
    assert SessionSpec.tiny() == SessionSpec()
    assert not SessionSpec(pipeline_version="0.9").has_demixed
    with pytest.raises(ValueError, match="too small"):
        write_session(tmp_path / "x.nwb", SessionSpec.tiny(n_frames=150))
    assert not (tmp_path / "x.nwb").exists()


def test_full_scale_schedule_has_real_counts() -> None:
    def total(letter: str, stimulus: str) -> int:
        epochs = plan_epochs(SessionSpec.full(session_type=f"three_session_{letter}"))
        return sum(e.start.size for e in epochs if e.stimulus == stimulus)

    assert total("A", "drifting_gratings") == 628 and total("B", "static_gratings") == 6000
    assert total("B", "natural_scenes") == 5950 and total("C", "locally_sparse_noise") == 8880
    assert total("C2", "locally_sparse_noise_4deg") == 5812 and total("C2", "locally_sparse_noise_8deg") == 5584
    assert total("A", "natural_movie_three") == 36_000 and total("A", "natural_movie_one") == 9_000
    assert total("C", "natural_movie_two") == 9_000
    assert template_shape("natural_scenes", 1.0) == (118, 918, 1174)
    assert template_shape("natural_movie_three", 1.0) == (3600, 304, 608)
    assert template_shape("locally_sparse_noise", 1.0) == (9000, 16, 28)


def test_fill_blocks_is_chunk_aligned(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "b.h5", "w") as f:
        dset = _h5.numeric(f, "x", shape=(1000, 7, 9), dtype=np.float32)
        ranges = list(_h5.block_ranges(dset, axis=0, block_bytes=30_000))
        assert ranges[0][0] == 0 and ranges[-1][1] == 1000 and len(ranges) > 2
        assert all(start % dset.chunks[0] == 0 for start, _ in ranges)
        _h5.fill_blocks(dset, lambda a, b: np.arange(a, b, dtype=np.float32)[:, None, None] + np.zeros((7, 9)),
                        axis=0, block_bytes=30_000)
        assert np.array_equal(dset[:, 3, 4], np.arange(1000))


def test_generic_nwb1(tmp_path: Path) -> None:
    path = write_generic_nwb1(tmp_path / "g.nwb", seed=3)
    with h5py.File(path, "r") as f:
        assert f["nwb_version"][()] == b"NWB-1.0.5"
        assert "brain_observatory_pipeline" not in f["processing"] and "templates" in f["stimulus"]
        assert not any(k in f["general"] for k in ("session_type", "generated_by", "optophysiology"))
        assert len(f["acquisition/timeseries"]) >= 2 and len(f["stimulus/presentation"]) >= 1
        theta = f["processing/ephys/FilteredEphys/theta"]
        assert "timestamps" not in theta
        start = theta["starting_time"]
        assert start.shape == () and start.dtype == np.float64
        assert start.attrs["rate"].dtype == np.float32 and start.attrs["unit"] == b"Seconds"
        assert_fixed_attr(f["processing/ephys"], "interfaces", [b"FilteredEphys"])
        assert_vlen_utf8_attr(f["processing/ephys/FilteredEphys"], "neurodata_type", "Interface")
        for ts in f["acquisition/timeseries"].values():
            assert ts["timestamps"].shape[0] == ts["num_samples"][()] == ts["data"].shape[0]


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main([str(tmp_path / "c.nwb"), "--session-type", "three_session_C", "--no-eye-tracking"]) == 0
    assert "wrote" in capsys.readouterr().out
    with h5py.File(tmp_path / "c.nwb") as f:
        assert f["general/session_type"][()] == b"three_session_C" and "EyeTracking" not in f[PIPE]
    assert cli_main([str(tmp_path / "v.nwb"), "--variant", "B_pipeline_0.9", "--seed", "4"]) == 0
    assert (tmp_path / "v.nwb").read_bytes() == write_session(tmp_path / "w.nwb",
                                                               VARIANTS["B_pipeline_0.9"]).read_bytes()
