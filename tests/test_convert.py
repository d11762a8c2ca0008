"""The converter against independent h5py reads of the source, for every generator variant.

Expectations here are written from the layout document (bo_nwb1_layout.md) with plain h5py and
numpy; they do not use the converter's profile, planner or readers.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

import nwb1zarr
from nwb1zarr.testing import VARIANTS

P = "/processing/brain_observatory_pipeline"


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _strings(ds) -> list[str]:
    return [_s(v) for v in ds[()]]


def same_bits(store_values, source_values) -> None:
    """Equal shape, dtype and bit patterns (NaN positions and -0.0 count)."""
    a, b = np.asarray(store_values), np.asarray(source_values)
    assert a.shape == b.shape
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    if a.dtype.kind in "fc":
        a, b = a.view(f"u{a.dtype.itemsize}"), b.view(f"u{b.dtype.itemsize}")
    np.testing.assert_array_equal(a, b)


def open_store(path: Path) -> xr.DataTree:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return xr.open_datatree(path, engine="zarr")


@pytest.fixture(scope="session", params=sorted(VARIANTS))
def converted(request, variant_file):
    src = variant_file(request.param)
    dst = src.parent / f"{src.stem}-{request.node.name if hasattr(request, 'node') else 'x'}.zarr"
    report = nwb1zarr.convert(src, dst, overwrite=True)
    return request.param, src, dst, report


def test_traces_roi_labels_and_time(converted):
    _, src, dst, _ = converted
    dt = open_store(dst)
    with h5py.File(src, "r") as f:
        ophys = dt["ophys"]
        same_bits(ophys["time"].values, f[f"{P}/Fluorescence/imaging_plane_1/timestamps"][()])
        same_bits(ophys["cell_specimen_id"].values, f[f"{P}/ImageSegmentation/cell_specimen_ids"][()])
        assert list(ophys["roi_id"].values) == _strings(f[f"{P}/ImageSegmentation/roi_ids"])
        assert list(ophys["roi_name"].values) == _strings(f[f"{P}/ImageSegmentation/imaging_plane_1/roi_list"])
        same_bits(ophys["fluorescence"].values, f[f"{P}/Fluorescence/imaging_plane_1/data"][()])
        assert ophys["fluorescence"].dims == ("roi", "time")
        neuropil = f.get(f"{P}/Fluorescence/imaging_plane_1_neuropil_response/data")
        if neuropil is None:  # pipeline 0.9 stores the neuropil traces as a dataset here
            neuropil = f[f"{P}/Fluorescence/imaging_plane_1/neuropil_traces"]
        same_bits(ophys["neuropil"].values, neuropil[()])
        r = f.get(f"{P}/Fluorescence/imaging_plane_1_neuropil_response/r") or f[f"{P}/Fluorescence/imaging_plane_1/r"]
        same_bits(ophys["neuropil_r"].values, r[()])
        demixed = f.get(f"{P}/Fluorescence/imaging_plane_1_demixed_signal/data")
        if demixed is None:
            assert "demixed" not in ophys
        else:
            same_bits(ophys["demixed"].values, demixed[()])
        dff = f[f"{P}/DfOverF/imaging_plane_1/data"][()]
        dff_t = f[f"{P}/DfOverF/imaging_plane_1/timestamps"][()]
        if dff.shape[1] == len(dff_t) and dff_t.tobytes() == ophys["time"].values.tobytes():
            same_bits(ophys["dff"].values, dff)
            assert ophys["dff"].dims == ("roi", "time")
        else:  # never padded or cut: own group, own clock, no pretend alignment
            node = dt["ophys/dff"]
            same_bits(node["dff"].values, dff)
            same_bits(node["dff_time"].values, dff_t)
            assert "time" not in node["dff"].dims
            assert list(node["cell_specimen_id"].values) == list(ophys["cell_specimen_id"].values)


def test_masks_and_pixel_table(converted):
    _, src, dst, _ = converted
    dt = open_store(dst)
    with h5py.File(src, "r") as f:
        plane = f[f"{P}/ImageSegmentation/imaging_plane_1"]
        names = _strings(plane["roi_list"])
        masks = np.stack([plane[n]["img_mask"][()] for n in names])
        same_bits(dt["rois/mask"].values, masks)
        assert dt["rois/mask"].dims == ("roi", "y", "x")
        same_bits(dt["rois/max_projection"].values,
                  plane["reference_images/maximum_intensity_projection_image/data"][()])
        pix = np.concatenate([plane[n]["pix_mask"][()] for n in names])
        same_bits(dt["rois/pixels/x"].values, pix[:, 0])
        same_bits(dt["rois/pixels/y"].values, pix[:, 1])
        same_bits(dt["rois/pixels/weight"].values, np.concatenate([plane[n]["pix_mask_weight"][()] for n in names]))
        counts = [len(plane[n]["pix_mask_weight"]) for n in names]
        same_bits(dt["rois/pixels/roi"].values, np.repeat(np.arange(len(names)), counts).astype(np.int64))


def test_behavior_and_motion(converted):
    _, src, dst, _ = converted
    dt = open_store(dst)
    with h5py.File(src, "r") as f:
        rs = f[f"{P}/BehavioralTimeSeries/running_speed"]
        speed = rs["data"][()]
        same_bits(dt["behavior/running_speed/running_speed"].values, speed[:, 0] if speed.ndim == 2 else speed)
        same_bits(dt["behavior/running_speed/time"].values, rs["timestamps"][()])
        mc = f.get(f"{P}/MotionCorrection/2p_image_series/xy_translation") or \
            f[f"{P}/MotionCorrection/2p_image_series/xy_translations"]
        for i, name in enumerate(_strings(mc["feature_description"])):
            same_bits(dt[f"motion_correction/{name}"].values, mc["data"][:, i])
        same_bits(dt["motion_correction/time"].values, mc["timestamps"][()])
        if f"{P}/PupilTracking" in f:
            eye = dt["behavior/eye_tracking"]
            same_bits(eye["pupil_size"].values, f[f"{P}/PupilTracking/pupil_size/data"][()])
            for name in ("pupil_location", "pupil_location_spherical"):
                same_bits(eye[name].values, f[f"{P}/EyeTracking/{name}/data"][()])
        else:
            assert "eye_tracking" not in dt["behavior"].children


def test_stimulus_tables_and_templates(converted):
    _, src, dst, _ = converted
    dt = open_store(dst)
    with h5py.File(src, "r") as f:
        for group_name, group in f["stimulus/presentation"].items():
            name = group_name.removesuffix("_stimulus")
            table = dt[f"stimulus/{name}"]
            data, fd, ts = group["data"][()], group["frame_duration"][()], group["timestamps"][()]
            if "features" in group:
                for i, feature in enumerate(_strings(group["features"])):
                    same_bits(table[feature].values, data[:, i])
            if name == "spontaneous":
                same_bits(table["start"].values, fd[data == 1, 0].astype(np.int64))
                same_bits(table["end"].values, fd[data == -1, 0].astype(np.int64))
                same_bits(table["time"].values, ts[data == 1])
                same_bits(table["end_time"].values, ts[data == -1])
                continue
            assert table.sizes["presentation"] == len(data)
            same_bits(table["start"].values, fd[:, 0].astype(np.int64))
            same_bits(table["end"].values, fd[:, 1].astype(np.int64))
            same_bits(table["time"].values, ts)
            if "indexed_timeseries" in group:
                same_bits(table["frame"].values, data)
            if name.startswith("natural_movie"):
                n = len(np.unique(data))
                same_bits(table["repeat"].values, np.repeat(np.arange(len(data) // n), n))
        for group_name, group in f["stimulus/templates"].items():
            name = group_name.removesuffix("_image_stack")
            same_bits(dt[f"stimulus/{name}/template/template"].values, group["data"][()])
            assert dt[f"stimulus/{name}/template/template"].dims == ("frame", "y", "x")


def test_root_metadata_matches_allensdk_rules(converted):
    _, src, dst, _ = converted
    attrs = open_store(dst).attrs
    with h5py.File(src, "r") as f:
        g = f["general"]
        assert attrs["ophys_experiment_id"] == int(g["session_id"][()])
        assert attrs["experiment_container_id"] == int(g["experiment_container_id"][()])
        assert attrs["session_type"] == _s(g["session_type"][()])
        assert attrs["imaging_depth_um"] == int(_s(g["optophysiology/imaging_plane_1/imaging depth"][()]).split()[0])
        genotype = _s(g["subject/genotype"][()])
        assert attrs["genotype"] == genotype and attrs["cre_line"] == genotype.split(";")[0]
        assert attrs["age_days"] == int(re.match("(.*?) days", _s(g["subject/age"][()])).group(1))
        device = re.match(r"(.*?)\.\s(.*?)\sPlease*", _s(g["devices/2-photon microscope"][()]))
        assert (attrs["device"], attrs["device_name"]) == device.groups()
        expected_version = _s(g["generated_by"][-1]) if "generated_by" in g else "0.9"
        assert attrs["pipeline_version"] == expected_version
        start = datetime.strptime(_s(f["session_start_time"][()]), "%a %b %d %H:%M:%S %Y")
        assert attrs["session_start_time"] == start.isoformat()
        assert attrs["identifier"] == _s(f["identifier"][()])
        assert attrs["source_size"] == src.stat().st_size


def test_everything_else_is_kept_under_nwb1(converted):
    """Every source dataset is either in a named place or under /nwb1 at its own path, bit for bit."""
    _, src, dst, report = converted
    dt = open_store(dst)
    seen = []
    with h5py.File(src, "r") as f:
        def visit(path, obj):
            link = f.get("/" + path, getlink=True)
            if not isinstance(obj, h5py.Dataset) or not isinstance(link, h5py.HardLink):
                return
            account = report.accounting["/" + path]
            if account["status"] == "kept":
                stored = dt["/nwb1/" + path]
                value = obj[()]
                if obj.dtype.kind in "SO":
                    flat = [_s(v) for v in np.asarray(value).reshape(-1)]
                    assert list(np.asarray(stored.values).reshape(-1)) == flat
                else:
                    same_bits(stored.values, value)
                seen.append(path)
            else:
                assert account["status"] == "mapped", (path, account)
                for store_path in account["store_paths"]:
                    assert store_path.rsplit("/", 1)[1] in dt[store_path.rsplit("/", 1)[0] or "/"].variables
        f.visititems(visit)
    assert seen, "nothing was kept under /nwb1"
    skipped = {p for p, a in report.accounting.items() if a["status"] == "skipped"}
    with h5py.File(src, "r") as f:
        for path in skipped:
            assert isinstance(f.get(path, getlink=True), h5py.ExternalLink), path


def test_links_and_group_attributes_are_recorded(converted):
    _, src, dst, _ = converted
    dt = open_store(dst)
    with h5py.File(src, "r") as f:
        seg = f"{P}/DfOverF/imaging_plane_1"
        links = dt["/nwb1" + seg].attrs["nwb1_links"]
        assert links["segmentation_interface"] == f[seg].get("segmentation_interface", getlink=True).path
        assert dt["/nwb1" + seg].attrs["nwb1:description"] == _s(f[seg].attrs["description"])
        assert dt["/nwb1/epochs"].attrs["nwb1:tags"] == "[]"


def test_generic_profile(tmp_path):
    from nwb1zarr.testing import write_generic_nwb1

    src = write_generic_nwb1(tmp_path / "generic.nwb")
    report = nwb1zarr.convert(src, tmp_path / "generic.zarr")
    assert report.profile == "generic_nwb1"
    dt = open_store(tmp_path / "generic.zarr")
    found = 0
    with h5py.File(src, "r") as f:
        def visit(path, obj):
            nonlocal found
            if isinstance(obj, h5py.Group) and _s(obj.attrs.get("neurodata_type", "")) == "TimeSeries":
                node = dt["/timeseries/" + path]
                same_bits(node["data"].values, obj["data"][()])
                if "timestamps" in obj:
                    same_bits(node["time"].values, obj["timestamps"][()])
                else:
                    rate = float(obj["starting_time"].attrs["rate"])
                    expected = float(obj["starting_time"][()]) + np.arange(len(obj["data"])) / rate
                    same_bits(node["time"].values, expected)
                found += 1
        f.visititems(visit)
    assert found >= 2


def test_default_destination_and_refusal(tmp_path, variant_file):
    src = tmp_path / "s.nwb"
    src.write_bytes(variant_file("B").read_bytes())
    nwb1zarr.convert(src)
    assert (tmp_path / "s.zarr").is_dir()
    with pytest.raises(nwb1zarr.DestinationError, match="exists"):
        nwb1zarr.convert(src)


def test_zarr_format_2(tmp_path, variant_file):
    src = variant_file("B")
    nwb1zarr.convert(src, tmp_path / "v2.zarr", zarr_format=2)
    dt = open_store(tmp_path / "v2.zarr")
    with h5py.File(src, "r") as f:
        same_bits(dt["ophys/fluorescence"].values, f[f"{P}/Fluorescence/imaging_plane_1/data"][()])
    assert (tmp_path / "v2.zarr" / ".zmetadata").is_file()


def test_lazy_backend_matches_store(tmp_path, variant_file):
    src = variant_file("C")
    nwb1zarr.convert(src, tmp_path / "c.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lazy = xr.open_datatree(src, engine="nwb1")
    stored = open_store(tmp_path / "c.zarr")
    assert not lazy["ophys/fluorescence"].variable._in_memory  # lazy: nothing read yet
    for path in ("ophys/fluorescence", "rois/mask", "stimulus/locally_sparse_noise/template/template"):
        same_bits(lazy[path].values, stored[path].values)
    lazy.close()
