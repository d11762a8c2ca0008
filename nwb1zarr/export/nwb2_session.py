"""Session-level NWB 2 objects from a store's metadata: NWBFile, Subject, Device, OpticalChannel, ImagingPlane.

Values come from the store's root attributes (AllenSDK ``get_metadata()`` names) and the NWB 1.0 ``/general``
datasets it keeps under ``/nwb1/general``; nothing is invented. Where NWB 2 needs a number the source only gives
as text (``emission_lambda``: "See emission properties of GCaMP6f"), NaN is written and the text is kept.
"""

from __future__ import annotations

import datetime as dt_
import math
import re
from typing import Any
from zoneinfo import ZoneInfo

ALLEN_ZONE = "America/Los_Angeles"
"""NWB 1.0 BO session times carry no zone; NWB 2 needs one; the Allen Institute (Seattle) local time is assumed."""


def general(tree: Any, path: str) -> str | None:
    """A text value kept under ``/nwb1/general`` (None when absent or not a scalar)."""
    group, _, name = f"nwb1/general/{path}".rpartition("/")
    if tree is None:
        return None
    try:
        node = tree[group]
    except KeyError:
        return None
    if name not in node.variables or node[name].ndim != 0:
        return None
    return str(node[name].values[()])


def number(text: Any) -> float:
    """The leading number of a text such as '910 nanometers' or '31Hz' (NaN when there is none).

    >>> number("910 nanometers"), number("31Hz"), math.isnan(number("See emission properties"))
    (910.0, 31.0, True)
    """
    match = re.match(r"\s*([-+]?\d+(?:\.\d+)?)", str(text or ""))
    return float(match.group(1)) if match else math.nan


def start_time(text: str, *, zone: str) -> dt_.datetime:
    """An ISO 8601 time (from the store) with a zone: its own, else ``zone``.

    >>> start_time("2016-08-16T11:11:55", zone="UTC").isoformat()
    '2016-08-16T11:11:55+00:00'
    """
    value = dt_.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))


def nwb_file(attrs: dict[str, Any], *, zone: str, notes: str | None, tree: Any = None) -> Any:
    """The NWBFile with the session's identity; ``notes`` says what the export did not map."""
    import pynwb

    text = attrs.get("session_start_time")
    try:
        when = start_time(str(text), zone=zone)
    except ValueError as exc:
        from ..errors import SourceDataError

        raise SourceDataError(f"session_start_time {text!r} is not a date; NWB 2 requires one",
                              path="/session_start_time") from exc
    kwargs: dict[str, Any] = {}
    if tree is not None and attrs.get("ophys_experiment_id") is None:  # generic: what /general says
        for name in ("institution", "lab", "session_id", "experiment_description"):
            if general(tree, name) is not None:
                kwargs[name] = general(tree, name)
        if general(tree, "experimenter") is not None:
            kwargs["experimenter"] = [general(tree, "experimenter")]
    if attrs.get("ophys_experiment_id") is not None:
        kwargs.update(session_id=str(attrs["ophys_experiment_id"]),
                      institution=general(tree, "institution") or "Allen Institute for Brain Science",
                      experiment_description=f"Allen Brain Observatory Visual Coding 2-photon, "
                                             f"{attrs.get('session_type', '?')}",
                      stimulus_notes=str(attrs.get("session_type", "")),
                      keywords=["Allen Brain Observatory", "Visual Coding", "two-photon calcium imaging",
                                str(attrs.get("targeted_structure") or "visual cortex")])
    return pynwb.NWBFile(session_description=str(attrs.get("session_description") or "no description"),
                         identifier=str(attrs.get("identifier") or attrs.get("source_sha256")),
                         session_start_time=when, notes=notes, **kwargs)


_SEX = {"male": "M", "female": "F", "m": "M", "f": "F"}


def iso_age(text: str | None) -> str | None:
    """'12 weeks' -> 'P12W' (an ISO 8601 duration, as NWB 2 wants); anything else unchanged.

    >>> iso_age("12 weeks"), iso_age("90 days"), iso_age("P90D"), iso_age("adult")
    ('P12W', 'P90D', 'P90D', 'adult')
    """
    match = re.fullmatch(r"\s*(\d+)\s*(day|week|month|year)s?\s*", text or "", flags=re.IGNORECASE)
    if match is None:
        return text
    return f"P{match.group(1)}{match.group(2)[0].upper()}"


def subject(attrs: dict[str, Any], tree: Any) -> Any:
    """Subject: id = the donor (specimen) name, age as ISO 8601 duration, sex M/F/U, genotype, species."""
    from pynwb.file import Subject

    source_id = general(tree, "subject/subject_id")
    description = general(tree, "subject/description") or "mouse"
    if source_id is not None:
        description += f"; NWB 1.0 subject_id (the specimen id): {source_id}"
    age = f"P{int(attrs['age_days'])}D" if attrs.get("age_days") is not None else iso_age(general(tree, "subject/age"))
    if age is not None and not re.match(r"^P(\d+[YMWD])+$", age):  # NWB 2 wants an ISO 8601 duration
        description += f"; age in the NWB 1.0 source: {age!r}"
        age = None
    return Subject(subject_id=str(attrs.get("specimen_name") or source_id or "unknown"), age=age,
                   sex=_SEX.get(str(attrs.get("sex", "")).lower(), "U"),
                   genotype=attrs.get("genotype") or general(tree, "subject/genotype"),
                   species=general(tree, "subject/species") or "Mus musculus", description=description)


def imaging_plane(nwbfile: Any, attrs: dict[str, Any], tree: Any) -> Any:
    """Device, OpticalChannel and ImagingPlane with the session's metadata."""
    from pynwb.ophys import OpticalChannel

    device = nwbfile.create_device(name=str(attrs.get("device_name") or "2-photon microscope"),
                                   description=str(attrs.get("device") or general(tree, "devices/2-photon microscope")
                                                   or "2-photon microscope"))
    plane_path = "optophysiology/imaging_plane_1"
    emission = general(tree, f"{plane_path}/channel-1/emission_lambda")
    channel = OpticalChannel(name="channel_1",
                             description=(general(tree, f"{plane_path}/channel-1/description") or "optical channel")
                             + (f"; emission_lambda in the NWB 1.0 source: {emission!r}" if emission else ""),
                             emission_lambda=number(emission))
    depth = attrs.get("imaging_depth_um")
    location = str(attrs.get("targeted_structure") or general(tree, f"{plane_path}/location") or "unknown")
    description = f"2-photon imaging plane in {location}" + (f" at a depth of {depth} µm" if depth is not None else "")
    if attrs.get("fov"):
        description += f"; field of view {attrs['fov']}"
    pixel = number(general(tree, "pixel_size"))
    grid = {} if math.isnan(pixel) else {"grid_spacing": [pixel, pixel], "grid_spacing_unit": "micrometers"}
    return nwbfile.create_imaging_plane(
        name="imaging_plane_1", optical_channel=channel, description=description, device=device,
        excitation_lambda=number(attrs.get("excitation_lambda") or general(tree, f"{plane_path}/excitation_lambda")),
        imaging_rate=number(general(tree, f"{plane_path}/imaging_rate")),
        indicator=str(attrs.get("indicator") or general(tree, f"{plane_path}/indicator") or "unknown"),
        location=location, **grid)


def lab_metadata(attrs: dict[str, Any], *, not_exported: list[str], external: list[str], version: str) -> Any:
    """The extension object: AllenSDK metadata without a core field, provenance, external data, not-exported list."""
    from .nwb2_extension import session_metadata

    values = dict(attrs)
    values.update(source_nwb_version=attrs.get("nwb_version"), source_identifier=attrs.get("identifier"),
                  nwb1zarr_version=version, not_exported="\n".join(not_exported) or "(nothing)",
                  external_data="\n".join(external) or "(none)")
    return session_metadata(values)
