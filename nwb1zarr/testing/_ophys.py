"""Imaging parts: the raw 2p series, MotionCorrection, ImageSegmentation, Fluorescence and DfOverF."""

from __future__ import annotations

import h5py
import numpy as np

from . import _h5, _nwb, _signals
from ._metadata import Identity
from ._spec import SessionSpec
from ._text import (
    DEMIXED_DESCRIPTION,
    FLUORESCENCE_COMMENTS,
    HELP_2P,
    HELP_IMAGE,
    HELP_ROI,
    HELP_TS,
    MOTION_LINKS,
    PIPELINE,
)

RAW_SERIES = "/acquisition/timeseries/2p_image_series"
SEGMENTATION = f"{PIPELINE}/ImageSegmentation"
NEUROPIL_DATA = f"{PIPELINE}/Fluorescence/imaging_plane_1_neuropil_response/data"
TIMESTAMP_LINK = [b"processing/brain_observatory_pipeline/DfOverF/imaging_plane_1", RAW_SERIES.encode()]
_2P_ANCESTRY = [b"TimeSeries", b"ImageSeries", b"TwoPhotonSeries"]
_ROI_ANCESTRY = [b"TimeSeries", b"RoiResponseSeries"]


def _movie_fields(g: h5py.Group, spec: SessionSpec, movie_ts: np.ndarray, *, external: str,
                  imaging_plane: bytes) -> None:
    height, width = spec.fov
    _h5.scalar(g, "bits_per_pixel", np.int32(8))
    if spec.external_links:
        g["data"] = h5py.ExternalLink(external, "/data")
    else:
        g.create_dataset("data", data=np.array([1.0]))  # placeholder as in the shrunk real file
    _h5.numeric(g, "dimension", np.array([width, height], dtype=np.int32))
    _h5.numeric(g, "field_of_view", np.array([width, height], dtype=np.float32) * np.float32(0.0004 / 512))
    _h5.scalar(g, "format", b"raw")
    _h5.scalar(g, "imaging_plane", imaging_plane)
    _nwb.timestamps(g, movie_ts)


def write_raw_series(f: h5py.File, spec: SessionSpec, ident: Identity, movie_ts: np.ndarray) -> None:
    """``/acquisition/timeseries/2p_image_series`` (data: dangling external link or placeholder)."""
    g = _nwb.timeseries(f["acquisition/timeseries"], "2p_image_series", ancestry=_2P_ANCESTRY, help=HELP_2P,
                        description=b"Unprocessed in-vivo two-photon calcium imaging of neuronal activity",
                        extern_fields=[b"data"], missing_fields=[b"pmt_gain", b"scan_line_rate"],
                        timestamp_link=TIMESTAMP_LINK)
    _movie_fields(g, spec, movie_ts, external=f"{ident.storage_dir}/{ident.experiment_id}.h5",
                  imaging_plane=b"imaging_plane_1")


def write_motion_correction(module: h5py.Group, spec: SessionSpec, ident: Identity,
                            movie_ts: np.ndarray) -> None:
    """MotionCorrection with the duplicated ``@links``, ``corrected`` and ``xy_translation(s)``."""
    mc = _nwb.interface(module, "MotionCorrection", source=b"Acquired 2-photon image", links=MOTION_LINKS.encode())
    series = mc.create_group("2p_image_series")
    _h5.set_attrs(series, {"links": MOTION_LINKS.encode()})
    corrected = _nwb.timeseries(
        series, "corrected", ancestry=_2P_ANCESTRY, help=HELP_2P, source=b"This module",
        description=b"Motion corrected in-vivo two-photon calcium imaging of neuronal activity",
        extern_fields=[b"data"], missing_fields=[b"pmt_gain", b"scan_line_rate"])
    _movie_fields(corrected, spec, movie_ts, external=f"{ident.storage_dir}/processed/concat_31Hz_0.h5",
                  imaging_plane=b"N/A")
    series["original"] = h5py.SoftLink(RAW_SERIES)
    _h5.scalar(series, "original_path", RAW_SERIES)
    name = "xy_translations" if spec.pipeline_version == "0.9" else "xy_translation"
    xy = _nwb.timeseries(series, name, ancestry=[b"TimeSeries"], help=HELP_TS, source=b"This module",
                         description=b"Time series of x, y shifts applied to create motion stabilized "
                                     b"image series")
    _nwb.data(xy, _signals.motion_offsets(movie_ts.size, spec.seed), unit=b"frame")
    _nwb.custom(xy, "feature_description", np.array([b"x_motion", b"y_motion"]))
    _nwb.timestamps(xy, movie_ts)


def write_segmentation(module: h5py.Group, spec: SessionSpec, ident: Identity) -> None:
    """ImageSegmentation: unsorted 9-digit cell ids, ROI groups, max projection, roi_list/roi_ids."""
    g = _signals.rng(spec.seed, 33)
    seg = _nwb.interface(module, "ImageSegmentation",
                         source=f"{ident.storage_dir}/neuropil_correction.h5".encode())
    _nwb.custom(seg, "cell_specimen_ids", _unsorted_ids(g, spec.n_rois, low=517_000_000))
    plane = seg.create_group("imaging_plane_1")
    _h5.scalar(plane, "description", b"Image segmentation masks for 2-P imaging")
    _h5.scalar(plane, "imaging_plane_name", b"imaging_plane_1")
    masks = _signals.roi_masks(spec.n_rois, spec.fov, spec.seed)
    ref = _nwb.timeseries(plane.create_group("reference_images"), "maximum_intensity_projection_image",
                          ancestry=[b"TimeSeries", b"ImageSeries"], help=HELP_IMAGE)
    _h5.scalar(ref, "bits_per_pixel", np.int32(8))
    _nwb.data(ref, _signals.max_projection(masks, spec.fov, spec.seed), unit=b"grayscale")
    _h5.numeric(ref, "dimension", np.array(spec.fov[::-1], dtype=np.int32))
    _h5.scalar(ref, "format", b"raw")
    _nwb.timestamps(ref, np.array([0.0]))
    names = roi_names(spec.n_rois)
    for name, mask in zip(names, masks, strict=True):
        roi = plane.create_group(name)
        _h5.numeric(roi, "img_mask", mask.img_mask)
        _h5.numeric(roi, "pix_mask", mask.pix_mask)
        _h5.numeric(roi, "pix_mask_weight", mask.pix_mask_weight)
        _h5.scalar(roi, "roi_description", b"cell")
    _h5.strings(plane, "roi_list", names, pad=1)
    roi_ids = _unsorted_ids(g, spec.n_rois, low=100_000_000)
    _nwb.custom(seg, "roi_ids", np.array([str(i).encode() for i in roi_ids]))


def _unsorted_ids(g: np.random.Generator, n: int, *, low: int) -> np.ndarray:
    """``n`` distinct 9-digit int64 ids near each other, in a shuffled (not sorted) order."""
    ids = g.integers(low, low + 10**8) + np.cumsum(g.integers(1, 40, n))
    order = g.permutation(n)
    if n > 1 and np.all(np.diff(order) > 0):
        order = order[::-1]
    return ids[order].astype(np.int64)


def roi_names(n: int) -> list[str]:
    return [f"roi_{i:04d}" for i in range(n)]


def _roi_series(parent: h5py.Group, name: str, spec: SessionSpec, ts: np.ndarray, *, description: str,
                unit: bytes, n_columns: int | None = None, **extra: _h5.Attr) -> tuple[h5py.Group, h5py.Dataset]:
    """RoiResponseSeries with empty (N, T[+k]) float32 data to be filled block by block."""
    g = _nwb.timeseries(parent, name, ancestry=_ROI_ANCESTRY, help=HELP_ROI,
                        description=description.encode(), **extra)
    shape = (spec.n_rois, n_columns if n_columns is not None else ts.size)
    dset = _nwb.data(g, unit=unit, shape=shape, dtype=np.float32)
    _h5.strings(g, "roi_names", roi_names(spec.n_rois), pad=1)
    _nwb.link_with_path(g, "segmentation_interface", SEGMENTATION, path=SEGMENTATION.lstrip("/"))
    _nwb.timestamps(g, ts)
    return g, dset


def write_traces(module: h5py.Group, spec: SessionSpec, ident: Identity, ts: np.ndarray) -> None:
    """Fluorescence (raw, neuropil, demixed) and DfOverF, rows = ROIs, written in column blocks."""
    n_frames = ts.size
    model = _signals.TraceModel.create(spec.n_rois, n_frames + 1, spec.seed)
    source = f"{ident.storage_dir}/neuropil_correction.h5".encode()
    fl = _nwb.interface(module, "Fluorescence", source=source)
    raw_group, raw = _roi_series(fl, "imaging_plane_1", spec, ts, unit=b"frame",
                                 description="Fluorescence data for imaging plane imaging_plane_1")
    _nwb.custom(raw_group, "comments", FLUORESCENCE_COMMENTS.encode())
    _nwb.custom(raw_group, "r", model.r)
    _nwb.custom(raw_group, "rmse", model.rmse)
    out = {"raw": raw}
    if spec.pipeline_version == "0.9":
        out["neuropil"] = _h5.numeric(raw_group, "neuropil_traces", shape=raw.shape, dtype=np.float32,
                                      neurodata_type=b"Custom")
    else:
        _nwb.link_with_path(raw_group, "neuropil_traces", NEUROPIL_DATA, path=NEUROPIL_DATA.lstrip("/"),
                            custom_path=True)
        np_group, out["neuropil"] = _roi_series(
            fl, "imaging_plane_1_neuropil_response", spec, ts, unit=b"unknown",
            description="Neuropil fluorescence data for imaging plane imaging_plane_1",
            data_link=[f"{PIPELINE}/Fluorescence/imaging_plane_1/neuropil_traces".encode(),
                       NEUROPIL_DATA.encode()])
        _nwb.custom(np_group, "r", model.r)
        _nwb.custom(np_group, "rmse", model.rmse)
    if spec.has_demixed:
        _, out["demixed"] = _roi_series(fl, "imaging_plane_1_demixed_signal", spec, ts, unit=b"unknown",
                                        description=DEMIXED_DESCRIPTION)
    dff = _nwb.interface(module, "DfOverF", source=f"{ident.storage_dir}/{ident.experiment_id}_dff.h5".encode())
    _, out["dff"] = _roi_series(dff, "imaging_plane_1", spec, ts, unit=b"frame",
                                n_columns=n_frames + spec.dff_extra_columns, timestamp_link=TIMESTAMP_LINK,
                                description="DF/F data for imaging plane imaging_plane_1")
    _fill_traces(model, out, n_frames + max(spec.dff_extra_columns, 0))


def _fill_traces(model: _signals.TraceModel, out: dict[str, h5py.Dataset], length: int) -> None:
    ranges = list(_h5.block_ranges(out["raw"], axis=1))
    ranges[-1] = (ranges[-1][0], length)
    for start, stop in ranges:
        block = model.block(start, stop)
        for key, dset in out.items():
            end = min(stop, dset.shape[1])
            if end > start:
                dset[:, start:end] = block[key][:, : end - start]
