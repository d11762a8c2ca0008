"""Brain Observatory behavior into NWB 2: running speed (BehavioralTimeSeries), pupil size (PupilTracking) and pupil
location (EyeTracking), in a ``behavior`` processing module."""

from __future__ import annotations

from typing import Any

import numpy as np

from .nwb2_brain_observatory import Placement, description, text, unit
from .nwb2_iterators import dataset_io

SPATIAL_UNITS = {"cm": "centimeters", "mm": "millimeters", "um": "micrometers", "µm": "micrometers", "m": "meters",
                 "deg": "degrees", "degree": "degrees", "rad": "radians", "pixel": "pixels", "px": "pixels"}
"""Abbreviated NWB 1.0 units spelled out as NWB 2's SpatialSeries expects (nwbinspector check_spatial_series_unit)."""


def spatial_unit(var: Any) -> str:
    value = unit(var) or "n.a."
    return SPATIAL_UNITS.get(value, value)


def add_behavior(nwbfile: Any, tree: Any, placement: Placement) -> None:
    """Running speed (BehavioralTimeSeries), pupil size (PupilTracking), pupil location (EyeTracking)."""
    from pynwb.behavior import BehavioralTimeSeries, EyeTracking, PupilTracking, SpatialSeries

    if "behavior" not in tree.children:
        return
    behavior = tree["behavior"]
    module = None

    def get_module() -> Any:
        nonlocal module
        module = module or nwbfile.create_processing_module(name="behavior", description="running and eye tracking")
        return module

    if "running_speed" in behavior.children:
        node = behavior["running_speed"]
        var = node["running_speed"]
        container = BehavioralTimeSeries(name="BehavioralTimeSeries")
        container.create_timeseries(name="running_speed", data=dataset_io(var.variable), unit=unit(var),
                                    timestamps=np.asarray(node["time"].values),
                                    description=description(var, "running speed"))
        get_module().add(container)
        placement.put(node, "running_speed")
        placement.put(node, "time")
    if "eye_tracking" in behavior.children:
        node = behavior["eye_tracking"]
        times, first = np.asarray(node["time"].values), None
        if "pupil_size" in node.variables:
            var = node["pupil_size"]
            pupil = PupilTracking(name="PupilTracking")
            first = pupil.create_timeseries(name="pupil_size", data=dataset_io(var.variable), unit=unit(var),
                                            timestamps=times, description=description(var, "pupil size"))
            get_module().add(pupil)
            placement.put(node, "pupil_size")
        eye = EyeTracking(name="EyeTracking")
        for name in ("pupil_location", "pupil_location_spherical"):
            if name not in node.variables:
                continue
            var = node[name]
            features = text(node[f"{name}_feature"].values) if f"{name}_feature" in node.variables else []
            series = SpatialSeries(name=name, data=dataset_io(var.variable), unit=spatial_unit(var),
                                   timestamps=first if first is not None else times,
                                   reference_frame=f"as in the NWB 1.0 source; columns: {', '.join(features)}",
                                   description=description(var, name) + f"; columns: {', '.join(features)}")
            eye.add_spatial_series(series)
            first = first or series
            placement.put(node, name)
        if eye.spatial_series:
            get_module().add(eye)
        if first is not None:
            placement.put(node, "time")
