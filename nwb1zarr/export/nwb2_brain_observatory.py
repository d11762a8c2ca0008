"""Brain Observatory data into NWB 2: ROIs, traces, summary image, motion (behavior: ``nwb2_behavior``;
stimulus tables and templates: ``nwb2_stimulus``).

Each store array is placed where ``schemas/nwb2_export.json`` says; :class:`Placement` records what was placed
and, for what was not, why (written into the file's notes and lab metadata).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .nwb2_iterators import dataset_io

TRACES = {"dff": ("DfOverF", "dff", "dF/F"), "fluorescence": ("Fluorescence", "raw", "raw ROI fluorescence"),
          "neuropil": ("Fluorescence", "neuropil", "neuropil fluorescence"),
          "demixed": ("Fluorescence", "demixed", "demixed ROI fluorescence")}
ROI_COLUMNS = ("cell_specimen_id", "roi_id", "roi_name")
PLACEHOLDER_UNITS = {"frame", ""}
"""NWB 1.0 BO files give 'frame' as the unit of nearly everything; it is not a unit, so 'n.a.' is written."""


@dataclass
class Placement:
    """Store paths placed in the NWB 2 file, and the reasons for those that were not."""

    placed: set[str] = field(default_factory=set)
    reasons: dict[str, str] = field(default_factory=dict)

    def put(self, node: Any, name: str) -> None:
        self.placed.add(f"{node.path.rstrip('/')}/{name}")


def text(values: Any) -> list[str]:
    return [str(v) for v in np.asarray(values, dtype=object).reshape(-1)]


def column_values(var: Any) -> Any:
    values = np.asarray(var.values)
    return text(values) if values.dtype.kind in "OUST" or values.dtype.kind == "T" else values


def unit(var: Any) -> str:
    value = str(var.attrs.get("units") or var.attrs.get("nwb1:unit") or "")
    return "n.a." if value in PLACEHOLDER_UNITS else value


def description(var: Any, default: str) -> str:
    parts = [str(var.attrs.get("description") or default)]
    if var.attrs.get("nwb1_path"):
        parts.append(f"NWB 1.0 source: {var.attrs['nwb1_path']}")
    return "; ".join(parts)


def add_rois(nwbfile: Any, plane: Any, tree: Any, placement: Placement) -> Any:
    """ImageSegmentation/PlaneSegmentation: image_mask, pixel_mask, ROI labels and neuropil r / rmse as columns."""
    from pynwb.ophys import ImageSegmentation

    module = nwbfile.create_processing_module(name="ophys", description="2-photon processing (Allen pipeline)")
    ophys, rois = tree["ophys"], tree["rois"] if "rois" in tree.children else None
    count = ophys.sizes.get("roi", 0)
    pixels = rois["pixels"] if rois is not None and "pixels" in rois.children else None
    has_pixels = pixels is not None and {"x", "y", "weight", "roi"} <= set(pixels.variables)
    if (rois is not None and "mask" in rois.variables) or has_pixels:
        segmentation = ImageSegmentation(name="ImageSegmentation")
        module.add(segmentation)
        table = segmentation.create_plane_segmentation(
            name="PlaneSegmentation", imaging_plane=plane,
            description="ROIs of the Allen segmentation, in the order of the NWB 1.0 roi_list")
        table.id.data.extend(range(count))  # columns (masks first among them) are added below
    else:  # pynwb reads no PlaneSegmentation without masks: the ROIs of a store whose masks were not mapped
        from hdmf.common import DynamicTable

        table = DynamicTable(name="rois", id=list(range(count)),
                             description="ROIs in the order of the NWB 1.0 roi_list; their masks were not "
                                         "consistent in the source, so there is no PlaneSegmentation")
        module.add(table)
    for source in (rois, ophys):
        if source is None:
            continue
        for name in (*ROI_COLUMNS, "roi_description", "neuropil_r", "neuropil_rmse"):
            if name in source.variables and name not in table.colnames:
                var = source[name]
                table.add_column(name=name, description=description(var, name), data=column_values(var))
            if name in source.variables:
                placement.put(source, name)
    if rois is not None and "mask" in rois.variables:
        table.add_column(name="image_mask", description="img_mask of each ROI (roi, y, x), values as stored",
                         data=dataset_io(rois["mask"].variable))
        placement.put(rois, "mask")
    if has_pixels:
        flat = np.empty(pixels.sizes["pixel"], dtype=[("x", "u4"), ("y", "u4"), ("weight", "f4")])
        for name in ("x", "y", "weight"):
            flat[name] = pixels[name].values
        ends = np.cumsum(np.bincount(pixels["roi"].values.astype(np.int64), minlength=count))
        with warnings.catch_warnings():  # hdmf warns on any index other than True, which cannot take compound
            warnings.filterwarnings("ignore", message="Column 'pixel_mask' is predefined")  # cells; same layout
            table.add_column(name="pixel_mask", description="pix_mask / pix_mask_weight of each ROI, x and y as "
                             "verified against img_mask", data=flat.tolist(), index=[int(e) for e in ends])
        for name in ("x", "y", "weight", "roi"):
            placement.put(pixels, name)
    if rois is not None and "max_projection" in rois.variables:
        from pynwb.base import Images
        from pynwb.image import GrayscaleImage

        var = rois["max_projection"]
        module.add(Images(name="SummaryImages", description="reference images of the segmentation",
                          images=[GrayscaleImage(name="maximum_intensity_projection", data=np.asarray(var.values),
                                                 description=description(var, "maximum intensity projection"))]))
        placement.put(rois, "max_projection")
    return module, table


def add_traces(module: Any, table: Any, tree: Any, placement: Placement) -> None:
    """RoiResponseSeries, time first, streamed from the store; timestamps stored once and linked."""
    from pynwb import TimeSeries
    from pynwb.core import ScratchData
    from pynwb.ophys import DfOverF, Fluorescence, PlaneSegmentation

    ophys = tree["ophys"]
    region = (table.create_roi_table_region(description="every ROI", region=list(range(len(table.id))))
              if isinstance(table, PlaneSegmentation) else None)
    containers: dict[str, Any] = {}
    first = None
    for name, (kind, series_name, what) in TRACES.items():
        if name in ophys.variables:
            var = ophys[name]
            timestamps = first if first is not None else np.asarray(ophys["time"].values)
            if region is None:  # no PlaneSegmentation: a plain TimeSeries, columns in the order of the rois table
                series = TimeSeries(name=name, data=dataset_io(var.variable, transpose=True), unit="n.a.",
                                    timestamps=timestamps, description=description(var, what)
                                    + "; (time, roi), ROIs in the order of /processing/ophys/rois")
                module.add(series)
                first = first or series
                placement.put(ophys, name)
                continue
            if kind not in containers:
                containers[kind] = (DfOverF if kind == "DfOverF" else Fluorescence)(name=kind)
                module.add(containers[kind])
            series = containers[kind].create_roi_response_series(
                name=series_name, data=dataset_io(var.variable, transpose=True), rois=region, unit="n.a.",
                timestamps=timestamps, description=description(var, what))
            first = first or series
            placement.put(ophys, name)
        elif name in ophys.children:  # a trace whose length differs from its timestamps: kept whole as scratch
            node = ophys[name]
            nwbfile = module.get_ancestor("NWBFile")
            nwbfile.add_scratch(ScratchData(name=f"{name}_unaligned", data=dataset_io(node[name].variable),
                                            description=f"{what} (roi, sample): {node.sizes.get(f'{name}_sample')} "
                                                  f"samples but {node.sizes.get(f'{name}_time')} timestamps in the "
                                                  "NWB 1.0 source; NWB 2 needs equal lengths, so not a "
                                                  "RoiResponseSeries. Never padded or cut."))
            nwbfile.add_scratch(ScratchData(name=f"{name}_unaligned_timestamps",
                                            data=np.asarray(node[f"{name}_time"].values),
                                            description=f"the timestamps of {name}_unaligned (seconds)"))
            placement.put(node, name)
            placement.put(node, f"{name}_time")
    if first is not None:
        placement.put(ophys, "time")


def add_motion(module: Any, tree: Any, placement: Placement) -> None:
    """One TimeSeries per motion-correction column; timestamps stored once and linked."""
    from pynwb import TimeSeries

    if "motion_correction" not in tree.children:
        return
    node, first = tree["motion_correction"], None
    for name, var in node.data_vars.items():
        series = TimeSeries(name=f"motion_correction_{name}", data=dataset_io(var.variable), unit="pixels",
                            timestamps=first if first is not None else np.asarray(node["time"].values),
                            description=description(var, f"motion correction {name} (xy_translation column)"))
        module.add(series)
        first = first or series
        placement.put(node, name)
    if first is not None:
        placement.put(node, "time")
