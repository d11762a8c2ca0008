"""Generic NWB 1.0 files (the ``generic_nwb1`` profile): each stored TimeSeries becomes an NWB 2 TimeSeries.

Acquisition stays acquisition, stimulus presentations stay stimulus, processing interfaces become TimeSeries in
a processing module of the same name (named ``<interface>_<series>``), as ``schemas/nwb2_export.json`` says.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .nwb2_brain_observatory import Placement, description, unit
from .nwb2_iterators import dataset_io
from .nwb2_mapping import target


def add_timeseries(nwbfile: Any, tree: Any, placement: Placement) -> None:
    """Every ``/timeseries/...`` group with ``data`` and ``time`` of the store, as a TimeSeries."""
    from pynwb import TimeSeries

    if "timeseries" not in tree.children:
        return
    for node in tree["timeseries"].subtree:
        own = node.to_dataset(inherit=False)
        if "data" not in own.variables or "time" not in own.variables:
            continue
        rule = target(f"{node.path}/data", profile="generic")
        if rule is None or not rule.exported:
            continue
        where, _, name = rule.nwb2_paths[0].rpartition("/data")[0].rpartition("/")
        var = own["data"]
        if var.sizes.get("time", -1) != own["time"].size:
            placement.reasons[f"{node.path}/data"] = "data and time differ in length; NWB 2 needs equal lengths"
            continue
        source = _source_group(tree, node)
        kwargs = dict(name=name, data=dataset_io(var.variable), unit=unit(var) or "n.a.",
                      description=description(var, str(source.get("nwb1:description") or name)),
                      comments=str(source.get("nwb1:comments") or "no comments"), **_timing(tree, own["time"]))
        frame = _reference_frame(tree, node)
        if source.get("nwb1_type") == "SpatialSeries" and frame is not None:
            from pynwb.behavior import SpatialSeries

            series = SpatialSeries(reference_frame=frame, **kwargs)
            kept = f"/nwb1{node.attrs['nwb1_path']}/reference_frame"
            placement.reasons[kept] = f"copied to the SpatialSeries {name}'s reference_frame"
        else:
            series = TimeSeries(**kwargs)
        if where == "/acquisition":
            nwbfile.add_acquisition(series)
        elif where == "/stimulus/presentation":
            nwbfile.add_stimulus(series)
        else:
            module_name = where.rsplit("/", 1)[1]
            module = nwbfile.processing.get(module_name) or nwbfile.create_processing_module(
                name=module_name, description=f"NWB 1.0 processing module {module_name}")
            module.add(series)
        placement.put(node, "data")
        placement.put(node, "time")


def _source_group(tree: Any, node: Any) -> dict[str, Any]:
    """The attributes of the TimeSeries group the store keeps under ``/nwb1`` (type, description, comments)."""
    try:
        return dict(tree[f"/nwb1{node.attrs['nwb1_path']}"].attrs)
    except KeyError:
        return {}


def _reference_frame(tree: Any, node: Any) -> str | None:
    """A SpatialSeries' ``reference_frame`` text, kept under ``/nwb1`` (None when absent)."""
    try:
        var = tree[f"/nwb1{node.attrs['nwb1_path']}"]["reference_frame"]
    except KeyError:
        return None
    return str(var.values[()]) if var.ndim == 0 else None


def _timing(tree: Any, time: Any) -> dict[str, Any]:
    """starting_time + rate for a clock the source gave that way (``regular_time``), else the timestamps."""
    if time.attrs.get("nwb1_derivation") == "regular_time":
        source = str(time.attrs["nwb1_derived_from"][0])
        group, _, name = f"/nwb1{source}".rpartition("/")
        try:
            start = tree[group][name]
        except KeyError:
            start = None
        if start is not None and start.attrs.get("nwb1:rate") is not None:
            return {"starting_time": float(start.values[()]), "rate": float(start.attrs["nwb1:rate"])}
    return {"timestamps": np.asarray(time.values)}
